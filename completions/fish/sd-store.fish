complete -c sd-store -l keep -d 'Delete events older than this (400d), at start and every hour, a few thousand at a time; the periods, the board and the facts stay. A store made with it gives the space back to the file system' -r
complete -c sd-store -l from -d 'Take the events of another store instead of stdin (read in one read transaction while its sd-store goes on; never written): how a new or returning server catches up on what the stream no longer holds. Events already here are stored once' -r -F
complete -c sd-store -l max-event-size -d 'Largest event accepted (1MiB, 64KiB)' -r
complete -c sd-store -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-store -l echo -d 'Print each event once its transaction has committed'
complete -c sd-store -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-store -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-store -s V -l version -d 'Print version'
