complete -c sd-recv -l group -d 'Consumer group: every group gets every event; consumers of one group share them. Without it, follow the stream (no guarantees)' -r
complete -c sd-recv -l consumer -d 'This consumer\'s name within the group [default: HOST-PID]. A receiver started again under the same name takes back at once what it held unacknowledged when it stopped (a service names its consumer so)' -r
complete -c sd-recv -l count -d 'Stop after N events' -r
complete -c sd-recv -l retire-group -d 'Delete a consumer group nobody uses any more, so the events it held back can be trimmed, and exit' -r
complete -c sd-recv -l warn-idle-group -d 'Warn about another group nobody has read for this long that holds events back from trimming' -r
complete -c sd-recv -l keyring -d 'Check signed events against the key of the host they name, from DIR/HOST.key; a bad signature goes to sheepdog:rejected' -r -F
complete -c sd-recv -l lease -d 'Work only while holding this lease in the broker: of two servers running the same role (`--group mail --lease mail`), one works and the other waits as the standby, taking over once the lease ends' -r
complete -c sd-recv -l lease-time -d 'How long a lease lasts unrenewed: the longest the standby waits after the active one died (it is renewed every third of it)' -r
complete -c sd-recv -l claim-idle -d 'Take over entries another consumer left unacknowledged this long' -r
complete -c sd-recv -l window -d 'Events in flight to the handler at most. Several of the handler\'s batches (sd-store commits 8,000 at a time), so that it stores the next while the last is flushed, echoed and acknowledged' -r
complete -c sd-recv -l max-deliveries -d 'Deliveries without an echo before an event goes to sheepdog:dead' -r
complete -c sd-recv -l max-event-size -d 'Largest event accepted (1MiB, 64KiB)' -r
complete -c sd-recv -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-recv -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-recv -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-recv -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-recv -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-recv -l once -d 'Deliver what is there now, then exit (65 if anything went to the dead letters or to sheepdog:rejected meanwhile)'
complete -c sd-recv -l from-now -d 'A new group starts with what arrives from now on, not at the beginning of the stream'
complete -c sd-recv -l from-start -d 'A new group starts with everything the stream still holds (the default; say it to make a script\'s intent plain)'
complete -c sd-recv -l groups -d 'List the stream\'s consumer groups (consumers, pending, lag, idle time) as JSON lines, and exit'
complete -c sd-recv -l require-signed -d 'With --keyring, unsigned events go to sheepdog:rejected too'
complete -c sd-recv -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-recv -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-recv -s V -l version -d 'Print version'
