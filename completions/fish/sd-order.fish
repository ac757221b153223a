# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sd_order_global_optspecs
    string join \n host= where= db= ttl= wait= key-file= again broker= broker-ca= stream= spool= config= q/quiet h/help V/version
end

function __fish_sd_order_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sd_order_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sd_order_using_subcommand
    set -l cmd (__fish_sd_order_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sd-order -n "__fish_sd_order_needs_command" -l host -d 'A host to order (repeatable)' -r
complete -c sd-order -n "__fish_sd_order_needs_command" -l where -d 'Order every host whose latest facts match (repeatable; all must)' -r
complete -c sd-order -n "__fish_sd_order_needs_command" -l db -d 'The store --where reads [default: [store] path, else the default store]' -r -F
complete -c sd-order -n "__fish_sd_order_needs_command" -l ttl -d 'How long an order stays good: after this the host refuses it' -r
complete -c sd-order -n "__fish_sd_order_needs_command" -l wait -d 'Wait this long for every host\'s result, printing each as it comes' -r
complete -c sd-order -n "__fish_sd_order_needs_command" -l key-file -d 'The private key [default: [order] key_file]' -r -F
complete -c sd-order -n "__fish_sd_order_needs_command" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-order -n "__fish_sd_order_needs_command" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-order -n "__fish_sd_order_needs_command" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-order -n "__fish_sd_order_needs_command" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-order -n "__fish_sd_order_needs_command" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-order -n "__fish_sd_order_needs_command" -l again -d 'Send an order even while an identical one (same host, action and arguments) sent earlier is still valid'
complete -c sd-order -n "__fish_sd_order_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-order -n "__fish_sd_order_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-order -n "__fish_sd_order_needs_command" -s V -l version -d 'Print version'
complete -c sd-order -n "__fish_sd_order_needs_command" -a "keygen" -d 'Make a key pair: the private key at PATH (0600), the public at PATH.pub'
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-order -n "__fish_sd_order_using_subcommand keygen" -s h -l help -d 'Print help'
