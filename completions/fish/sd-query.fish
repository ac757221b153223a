# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sd_query_global_optspecs
    string join \n sql= format= output= config= q/quiet h/help V/version
end

function __fish_sd_query_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sd_query_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sd_query_using_subcommand
    set -l cmd (__fish_sd_query_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sd-query -n "__fish_sd_query_needs_command" -l sql -d 'Run this SQL on the store, opened read-only; rows print as JSON objects (or a table)' -r
complete -c sd-query -n "__fish_sd_query_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_needs_command" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_needs_command" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_needs_command" -s V -l version -d 'Print version'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "status" -d 'The latest state of every host and tag, with its age'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "events" -d 'Events in the window, oldest first'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "interruptions" -d 'Interruption periods per host and tag in the window'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "durations" -d 'How long successful runs took per host and tag: count, median, p95, the last, and whether the last is unusual'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "ask" -d 'Answers to a question in the rule language, one per line'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "rules" -d 'The relations a rule file defines; with --check, only check it'
complete -c sd-query -n "__fish_sd_query_needs_command" -a "alerts" -d 'Events for alerts that start or stop holding, for `| sd-bark`'
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l since -d 'Only what happened since then: a duration before now (2h, 30d), a time (2026-11-01T12:00:00Z), a date (2026-11-01, local midnight), today or yesterday [default: 24h for events, 30d for interruptions, everything for status]' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l until -d 'Only what happened before then (the same forms as --since) [default: now]. Not for status, which is the board as it is now' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l host -d 'Only this host' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l tag -d 'Only this tag' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l status -d 'Only this status (ok, warn, fail, error, info)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l kind -d 'Only this kind (run, heartbeat, facts, …)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l fact -d 'Only hosts whose latest facts match (repeatable)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l limit -d 'At most this many rows (events: the newest)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l check -d 'Exit 1 when a tag shown is failing (fail or error), so the board can itself be a check in cron or a monitoring system'
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -l warn -d 'With --check, a warning counts as failing too'
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l since -d 'Only what happened since then: a duration before now (2h, 30d), a time (2026-11-01T12:00:00Z), a date (2026-11-01, local midnight), today or yesterday [default: 24h for events, 30d for interruptions, everything for status]' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l until -d 'Only what happened before then (the same forms as --since) [default: now]. Not for status, which is the board as it is now' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l host -d 'Only this host' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l tag -d 'Only this tag' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l status -d 'Only this status (ok, warn, fail, error, info)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l kind -d 'Only this kind (run, heartbeat, facts, …)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l fact -d 'Only hosts whose latest facts match (repeatable)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l limit -d 'At most this many rows (events: the newest)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand events" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l since -d 'Only what happened since then: a duration before now (2h, 30d), a time (2026-11-01T12:00:00Z), a date (2026-11-01, local midnight), today or yesterday [default: 24h for events, 30d for interruptions, everything for status]' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l until -d 'Only what happened before then (the same forms as --since) [default: now]. Not for status, which is the board as it is now' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l host -d 'Only this host' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l tag -d 'Only this tag' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l status -d 'Only this status (ok, warn, fail, error, info)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l kind -d 'Only this kind (run, heartbeat, facts, …)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l fact -d 'Only hosts whose latest facts match (repeatable)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l limit -d 'At most this many rows (events: the newest)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand interruptions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l since -d 'Only what happened since then: a duration before now (2h, 30d), a time (2026-11-01T12:00:00Z), a date (2026-11-01, local midnight), today or yesterday [default: 24h for events, 30d for interruptions, everything for status]' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l until -d 'Only what happened before then (the same forms as --since) [default: now]. Not for status, which is the board as it is now' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l host -d 'Only this host' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l tag -d 'Only this tag' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l status -d 'Only this status (ok, warn, fail, error, info)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l kind -d 'Only this kind (run, heartbeat, facts, …)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l fact -d 'Only hosts whose latest facts match (repeatable)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l limit -d 'At most this many rows (events: the newest)' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l slower -d 'The last run is slow when it took more than this times the median of the runs before it' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l faster -d 'The last run is suspiciously fast when it took less than this times the median' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand durations" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l rules -d 'The rule file [default: [rules] path, else /etc/sheepdog/rules.dl]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l timeout -d 'Stop a question that runs longer (exit 75, naming the rule that grew) [default: [rules] timeout, else 10s]' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l now -d 'Answer as if it were this time: the rules\' `now` (a time, 2h for two hours ago), to see what they said then or will say' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l orders -d 'Print each answer as an order request for `| sd-order`: the goal\'s relation names the action (block_ip → block-ip), its first argument is the host and the others are the action\'s arguments, named by their variables (Ip → ip)'
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -l plan -d 'Print how SQLite will answer instead of the answers (its EXPLAIN QUERY PLAN): which table each relation reads, through which index, in which order — to see why a question is slow'
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand ask" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_using_subcommand rules" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand rules" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand rules" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand rules" -l check -d 'Only check the file (no store is read); exit 2 naming every mistake'
complete -c sd-query -n "__fish_sd_query_using_subcommand rules" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand rules" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l rules -d 'The rule file [default: [rules] path, else /etc/sheepdog/rules.dl]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l timeout -d 'Stop a question that runs longer (exit 75, naming the rule that grew) [default: [rules] timeout, else 10s]' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l now -d 'Answer as if it were this time: the rules\' `now` (a time, 2h for two hours ago), to see what they said then or will say' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l state -d 'What is remembered between runs: the alerts holding now [default: [rules] alerts_state, else STATE/alerts.json]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l lease -d 'Of two servers running this from cron, only the one holding this lease in the broker ([broker] url, SD_BROKER) acts; it keeps it while it runs, the other takes over once it has not run for --lease-time' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l lease-time -d 'How long the lease outlives the holder\'s last run: longer than the time between runs' -r
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l format -d 'Output format [default: table on a terminal, json otherwise]: json, table, or for status also html (one self-contained page) and openmetrics (for node_exporter\'s textfile collector)' -r -f -a "json\t''
table\t''
openmetrics\t'The board for Prometheus (status only)'
html\t'The board as one self-contained page (status only)'"
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l output -d 'With --format html or openmetrics: write this file whole, or not at all (a new file renamed over the old), for a web server or node_exporter to read while cron rewrites it' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-query -n "__fish_sd_query_using_subcommand alerts" -s h -l help -d 'Print help (see more with \'--help\')'
