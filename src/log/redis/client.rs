//! Opening a Redis client the one way sheepdog does, for the master and
//! for the sentinels alike: with a password when one is given, and over
//! TLS trusting the broker's `ca_file` when one is given; and what a
//! refusal of the credentials looks like, for both.

use redis::{Client, ConnectionInfo, RedisResult, TlsCertificates};

pub fn open(
    mut info: ConnectionInfo,
    password: Option<&str>,
    ca_pem: Option<&[u8]>,
) -> RedisResult<Client> {
    if let Some(password) = password {
        let with_password = info.redis_settings().clone().set_password(password);
        info = info.set_redis_settings(with_password);
    }
    match ca_pem {
        Some(pem) => Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        ),
        None => Client::open(info),
    }
}

/// Whether a Redis server refused who we are or what we may do: a wrong
/// password, no password where one is needed, an ACL without the command.
pub fn is_refusal(err: &redis::RedisError) -> bool {
    err.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(err.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
}
