complete -c sd-run -s t -l tag -d 'What the job is called in events [default: the command\'s base name]' -r
complete -c sd-run -l notify-to -d 'Who should hear of this job (repeatable): put in its events as `notify_to`; the server\'s sd-mail honours it only where a [[route]] allows the address (allow_event_recipients)' -r
complete -c sd-run -l maintenance -d 'Declare this host down on purpose for DURATION before the job starts (a `kind: maintenance` event): what fails meanwhile, a reboot included, is held rather than mailed' -r
complete -c sd-run -l reason -d 'Why, with --maintenance' -r
complete -c sd-run -l timeout -d 'Stop the job after this long (30s, 5m, 6h): SIGTERM to its whole process group, SIGKILL after --kill-after; the run fails with reason `timeout` and sd-run exits 124' -r
complete -c sd-run -l kill-after -d 'Grace period between SIGTERM and SIGKILL on a timeout' -r
complete -c sd-run -l lock-dir -d 'Directory for --lock files [default: $XDG_STATE_HOME/sheepdog/locks, /var/lib/sheepdog/locks for root]' -r -F
complete -c sd-run -l max-output -d 'Keep at most this much of each of stdout and stderr in the event: the first and the last half, with a marker saying how many bytes were dropped between them (65536, 64KiB, 1MiB)' -r
complete -c sd-run -s c -d 'Run SHELL_LINE with /bin/sh -c instead of a command' -r
complete -c sd-run -l failures-only -d 'Print nothing when the job succeeds, except the first success after a failure: the recovery that closes the interruption and ends the reminders (the tag\'s last status is kept under the state directory, last-status/). sd-expect\'s dead man\'s switch cannot see the silent successes'
complete -c sd-run -l start -d 'Also print a `status: info, reason: start` event before the job begins, so a job that hangs can be noticed'
complete -c sd-run -l lock -d 'Do not start the job while another run of the same tag is running; report `reason: locked` and exit 75 instead. The lock dies with its holder, so a crashed run never blocks the next'
complete -c sd-run -l tee -d 'Copy the job\'s output to sd-run\'s stderr as it is written'
complete -c sd-run -s q -l quiet -d 'Print no messages of sd-run\'s own on stderr'
complete -c sd-run -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-run -s V -l version -d 'Print version'
