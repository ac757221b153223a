complete -c sd-heartbeat -l http -d 'Check this URL: HEAD (GET with --body-match), status in --expect' -r
complete -c sd-heartbeat -l tcp -d 'Check that HOST:PORT accepts a connection' -r
complete -c sd-heartbeat -l exec -d 'Run this command (split into words, no shell): exit 0 is ok' -r
complete -c sd-heartbeat -l checks -d 'Many checks at once, from the [[check]] tables of this file' -r -F
complete -c sd-heartbeat -l tag -d 'The tag of the events [default: the service restarted, else the URL\'s host, the address, or the command\'s name]' -r
complete -c sd-heartbeat -l method -d 'HTTP method' -r
complete -c sd-heartbeat -l expect -d 'HTTP status codes that mean ok' -r
complete -c sd-heartbeat -l body-match -d 'The body must contain this text (implies GET)' -r
complete -c sd-heartbeat -l ca -d 'Also trust this CA (PEM) for https' -r -F
complete -c sd-heartbeat -l timeout -d 'The whole check must finish within this' -r
complete -c sd-heartbeat -l user -d 'Run the checks as this user when started as root [default: [heartbeat] user, else sheepdog]' -r
complete -c sd-heartbeat -l restart -d 'Restart with this command (no shell)' -r
complete -c sd-heartbeat -l shepherd -d 'Restart this GNU Shepherd service (herd restart SERVICE)' -r
complete -c sd-heartbeat -l systemd -d 'Restart this systemd unit (systemctl restart UNIT)' -r
complete -c sd-heartbeat -l if-running -d 'Check only when this command succeeds (the service is supposed to run)' -r
complete -c sd-heartbeat -l after -d 'Restart after this many failures in a row' -r
complete -c sd-heartbeat -l max-restarts -d 'At most this many restarts per window (3/1h)' -r
complete -c sd-heartbeat -l every -d 'Check again every this long, until SIGTERM' -r
complete -c sd-heartbeat -l state-dir -d 'Where failures and restarts are counted between runs [default: [heartbeat] state_dir, $XDG_STATE_HOME/sheepdog/heartbeat, /var/lib/sheepdog/heartbeat for root]' -r -F
complete -c sd-heartbeat -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-heartbeat -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-heartbeat -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-heartbeat -s V -l version -d 'Print version'
