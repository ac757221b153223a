complete -c sd-obey -l host -d 'The host name orders are addressed to [default: [obey] host, else the short host name]' -r
complete -c sd-obey -l ledger -d 'The ledger of what ran [default: [obey] ledger, else $XDG_STATE_HOME/sheepdog/obey.db, /var/lib/sheepdog/obey.db for root]' -r -F
complete -c sd-obey -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-obey -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-obey -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-obey -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-obey -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-obey -l once -d 'Handle the orders waiting now, then exit'
complete -c sd-obey -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-obey -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-obey -s V -l version -d 'Print version'
