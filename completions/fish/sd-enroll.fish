# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sd_enroll_global_optspecs
    string join \n h/help V/version
end

function __fish_sd_enroll_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sd_enroll_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sd_enroll_using_subcommand
    set -l cmd (__fish_sd_enroll_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sd-enroll -n "__fish_sd_enroll_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-enroll -n "__fish_sd_enroll_needs_command" -s V -l version -d 'Print version'
complete -c sd-enroll -n "__fish_sd_enroll_needs_command" -f -a "add" -d 'On the server: make HOST\'s broker user, password and key, and its bundle (again: new ones, the old stop working)'
complete -c sd-enroll -n "__fish_sd_enroll_needs_command" -f -a "apply" -d 'On the host, as root: install BUNDLE and bark the host\'s facts'
complete -c sd-enroll -n "__fish_sd_enroll_needs_command" -f -a "revoke" -d 'On the server: delete HOST\'s broker user and key'
complete -c sd-enroll -n "__fish_sd_enroll_needs_command" -f -a "list" -d 'Every enrolled host: when, and when it last spoke'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -s o -l out -d 'Where to write the bundle (mode 0600), `-` for stdout [default: HOST.bundle here]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l host-url -d 'The broker\'s URL as the hosts reach it [default: the server\'s, without its user and password]' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l keyring -d 'The keyring sd-recv --keyring checks' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l order-key -d 'The private key orders are signed with; its .pub goes into bundles [default: [order] key_file]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand add" -s h -l help -d 'Print help'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand apply" -l etc -d 'Where the configuration goes' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand apply" -l other-host -d 'Install a bundle made for another host name'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand apply" -l replace-config -d 'Overwrite a sheepdog.toml that has settings of its own'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand apply" -l quiet-arrival -d 'Install only; bark nothing'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand apply" -s h -l help -d 'Print help'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l keyring -d 'The keyring sd-recv --keyring checks' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l order-key -d 'The private key orders are signed with; its .pub goes into bundles [default: [order] key_file]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l db -d 'The store that says when each host last spoke [default: [store] path, else the default store]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l keyring -d 'The keyring sd-recv --keyring checks' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l order-key -d 'The private key orders are signed with; its .pub goes into bundles [default: [order] key_file]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l broker -d 'Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), unix:///PATH, or through Sentinel redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay in the local spool. Prefer password_file in the configuration file to a password here, which `ps` shows to every user' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l broker-ca -d 'CA certificate (PEM) to trust for a rediss:// or tls:// broker' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l stream -d 'Redis stream key events travel on [default: sheepdog:events]' -r
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l spool -d 'Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db, /var/lib/sheepdog/spool.db for root]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-enroll -n "__fish_sd_enroll_using_subcommand list" -s h -l help -d 'Print help'
