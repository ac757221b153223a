# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sd_gate_global_optspecs
    string join \n listen= broker= broker-ca= stream= spool= config= q/quiet h/help V/version
end

function __fish_sd_gate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sd_gate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sd_gate_using_subcommand
    set -l cmd (__fish_sd_gate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sd-gate -n "__fish_sd_gate_needs_command" -l listen -d 'Address and port to listen on [default: [gate] listen, or 127.0.0.1:8470]' -r
complete -c sd-gate -n "__fish_sd_gate_needs_command" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-gate -n "__fish_sd_gate_needs_command" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-gate -n "__fish_sd_gate_needs_command" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-gate -n "__fish_sd_gate_needs_command" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-gate -n "__fish_sd_gate_needs_command" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-gate -n "__fish_sd_gate_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-gate -n "__fish_sd_gate_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-gate -n "__fish_sd_gate_needs_command" -s V -l version -d 'Print version'
complete -c sd-gate -n "__fish_sd_gate_needs_command" -f -a "add" -d 'Make a check: a new UUID for HOST and TAG, added to the configuration file; prints the UUID and the URL to ping'
complete -c sd-gate -n "__fish_sd_gate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -l slug -d 'Also reachable as /ping/KEY/SLUG ([gate] ping_key_file)' -r
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-gate -n "__fish_sd_gate_using_subcommand add" -s h -l help -d 'Print help'
complete -c sd-gate -n "__fish_sd_gate_using_subcommand help; and not __fish_seen_subcommand_from add help" -f -a "add" -d 'Make a check: a new UUID for HOST and TAG, added to the configuration file; prints the UUID and the URL to ping'
complete -c sd-gate -n "__fish_sd_gate_using_subcommand help; and not __fish_seen_subcommand_from add help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
