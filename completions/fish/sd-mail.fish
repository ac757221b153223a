# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sd_mail_global_optspecs
    string join \n channel= to= from= smtp= smtp-ca= smtp-user= sendmail= notify= repeat= group-wait= digest= max-age= retries= timeout= echo dry-run record rules= store= max-event-size= state= config= q/quiet h/help V/version
end

function __fish_sd_mail_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sd_mail_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sd_mail_using_subcommand
    set -l cmd (__fish_sd_mail_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sd-mail -n "__fish_sd_mail_needs_command" -l channel -d 'Tell notifications here too (repeatable): syslog, program=PATH, ntfy=TOPIC-URL, slack=WEBHOOK-URL, json=URL; [[notify]] tables configure these and Gotify and Matrix (tokens from files only)' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l to -d 'Where mail goes (repeat for several) [default: [mail] to]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l from -d 'The sender [default: [mail] from, else sheepdog@HOSTNAME]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l smtp -d 'The mail server, smtp://HOST:PORT or smtps://HOST:PORT (see above) [default: [mail] smtp]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l smtp-ca -d 'Trust this CA (PEM) for the mail server\'s certificate, besides the system\'s [default: [mail] smtp_ca]' -r -F
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l smtp-user -d 'Log in as this user [default: from the URL, or [mail] user]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l sendmail -d 'Hand mail to this sendmail program instead of SMTP [default: [mail] sendmail]' -r -F
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l notify -d 'Statuses worth a mail (fail,error,warn), or none for the digest only [default: [mail] notify, else fail,error]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l repeat -d 'Remind at most this often while a problem lasts [default: [mail] repeat, else 24h]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l group-wait -d 'Gather the changes of this long into one mail [default: [mail] group_wait, else 30s]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l digest -d 'Also send one summary of everything that happened per this period (24h) [default: [mail] digest, else none]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l max-age -d 'Events older than this never mail at once [default: [mail] max_age, else 24h]' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l retries -d 'Give up on the mail server after this many retries (with backoff from 1 s); the mail waits for the next run' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l timeout -d 'How long one SMTP conversation may take' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l rules -d 'Hold back notifications the rule file\'s suppress(Host, Tag) rules explain (a switch is down, so its hosts\' pings failing is no news); the mail about the cause names them [default: [rules] path, else /etc/sheepdog/rules.dl when it exists]' -r -F
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l store -d 'The store suppress rules are asked of [default: [store] path, else as sd-store\'s]' -r -F
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l max-event-size -d 'Largest event accepted (1MiB, 64KiB)' -r
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l state -d 'The state file [default: [mail] state, $XDG_STATE_HOME/sheepdog/mail.db, /var/lib/sheepdog/mail.db for root]' -r -F
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l echo -d 'Print each event once its mail was accepted or no mail is due'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l dry-run -d 'Print the mails instead of sending them (on stderr with --echo)'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -l record -d 'Record each notification as events (tag sd-mail, kind decided, then notified once told) through the spool to the broker, and at start take in what the store (--store) says was decided and told: of two servers taking turns as the voice (sd-recv --lease), the new one neither says again what the last one said nor loses what it had decided. A record that cannot reach the broker stops sd-mail (exit 69; it waits in the spool): events decided are not let go, and nothing more is told unrecorded'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -s V -l version -d 'Print version'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -f -a "silence" -d 'No mail for a host and tag (or every host or tag) until then; the state is still tracked'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -f -a "unsilence" -d 'End a silence early'
complete -c sd-mail -n "__fish_sd_mail_needs_command" -f -a "silences" -d 'List the silences in force'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l host -d 'The host [default: every host]' -r
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l tag -d 'The tag [default: every tag]' -r
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l for -d 'How long (2h, 3d)' -r
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l reason -d 'Why, for whoever lists the silences' -r
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l state -d 'The state file [default: [mail] state, $XDG_STATE_HOME/sheepdog/mail.db, /var/lib/sheepdog/mail.db for root]' -r -F
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -l record -d 'Record it as an event too, for the other server of a pair'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silence" -s h -l help -d 'Print help'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -l host -d 'The host [default: every host]' -r
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -l tag -d 'The tag [default: every tag]' -r
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -l state -d 'The state file [default: [mail] state, $XDG_STATE_HOME/sheepdog/mail.db, /var/lib/sheepdog/mail.db for root]' -r -F
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -l record -d 'Record it as an event too, for the other server of a pair'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand unsilence" -s h -l help -d 'Print help'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silences" -l state -d 'The state file [default: [mail] state, $XDG_STATE_HOME/sheepdog/mail.db, /var/lib/sheepdog/mail.db for root]' -r -F
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silences" -l config -d 'Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then /etc/sheepdog/sheepdog.toml]' -r -F
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silences" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c sd-mail -n "__fish_sd_mail_using_subcommand silences" -s h -l help -d 'Print help'
