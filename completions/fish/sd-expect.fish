complete -c sd-expect -l tag -d 'The tag whose `ok` is expected' -r
complete -c sd-expect -l within -d 'How recent the last `ok` must be (26h, 15m)' -r
complete -c sd-expect -l cron -d 'The job\'s schedule as a crontab writes it (\'0 3 * * *\'): overdue when a scheduled time plus --grace has passed with no `ok` since' -r
complete -c sd-expect -l tz -d 'The time zone the schedule is written in (Europe/Amsterdam) [default: this machine\'s local time]' -r
complete -c sd-expect -l grace -d 'How long a scheduled run may take to report success [default: 1h]' -r
complete -c sd-expect -l slower -d 'Warn when the latest successful run took more than this times the median of the runs before it (3x)' -r
complete -c sd-expect -l faster -d 'Warn when the latest successful run took less than this times the median (0.1x): a job that finishes suspiciously fast' -r
complete -c sd-expect -l runs -d 'How many successful runs before the latest make the median' -r
complete -c sd-expect -l host -d 'Only this host [default: every host that reported the tag]' -r
complete -c sd-expect -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-expect -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-expect -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-expect -s V -l version -d 'Print version'
