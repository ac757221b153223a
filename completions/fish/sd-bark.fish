complete -c sd-bark -l tag -d 'Compose one event with this tag instead of reading stdin' -r
complete -c sd-bark -l status -d 'Status of the composed event: ok, warn, fail, error or info [default: info; ok with --ping]' -r
complete -c sd-bark -l msg -d 'One human sentence for the composed event' -r
complete -c sd-bark -l kind -d 'Kind of the composed event [default: note; ping with --ping]' -r
complete -c sd-bark -l maintenance -d 'Declare this host (or --tag) down on purpose for DURATION (30m, 2h), or end the window early with `off`: a `kind: maintenance` event; the server holds its notifications meanwhile' -r
complete -c sd-bark -l reason -d 'Why, with --maintenance (`--reason \'kernel update\'`)' -r
complete -c sd-bark -l key-file -d 'Sign what is published with this host\'s key (HMAC-SHA256; see sheepdog(7)) [default: [broker] key_file]' -r -F
complete -c sd-bark -l max-event-size -d 'Largest event accepted (1MiB, 64KiB)' -r
complete -c sd-bark -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-bark -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-bark -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-bark -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-bark -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-bark -l ping -d 'Compose a keepalive: kind ping, status ok (tag: --tag or `ping`)'
complete -c sd-bark -l flush -d 'Only publish what waits in the spool; read nothing'
complete -c sd-bark -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-bark -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-bark -s V -l version -d 'Print version'
