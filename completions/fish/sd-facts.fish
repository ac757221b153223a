complete -c sd-facts -l packages -d 'Only these packages (comma-separated); all of them without it' -r
complete -c sd-facts -l disk-warn -d 'Warn for each filesystem used more than this (90%)' -r
complete -c sd-facts -l mem-warn -d 'Warn when more than this much memory is in use (95%)' -r
complete -c sd-facts -l load-warn -d 'Warn when the one-minute load is above this (8)' -r
complete -c sd-facts -l tag -d 'The tag of the facts event' -r
complete -c sd-facts -l no-packages -d 'Report no packages at all'
complete -c sd-facts -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-facts -s V -l version -d 'Print version'
