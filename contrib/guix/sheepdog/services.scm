;;; sheepdog services for GNU Guix System.
;;;
;;; Add contrib/guix to Guix's load path (guix system -L contrib/guix …,
;;; or a channel), then in the operating-system declaration:
;;;
;;;   (use-modules (sheepdog services))
;;;   (services
;;;    (append (list (service sheepdog-heartbeat-service-type
;;;                           (sheepdog-heartbeat-configuration
;;;                            (url "http://localhost:6680/")
;;;                            (shepherd-service 'mympd)))
;;;                  (service sheepdog-receiver-service-type))
;;;            %base-services))

(define-module (sheepdog services)
  #:use-module (gnu services)
  #:use-module (gnu services configuration)
  #:use-module (gnu services mcron)
  #:use-module (gnu services shepherd)
  #:use-module (gnu system shadow)
  #:use-module (gnu packages admin)
  #:use-module (guix gexp)
  #:use-module (guix records)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:use-module (sheepdog packages)
  #:export (sheepdog-heartbeat-configuration
            sheepdog-heartbeat-configuration?
            sheepdog-heartbeat-service-type
            sheepdog-receiver-configuration
            sheepdog-receiver-configuration?
            sheepdog-receiver-service-type
            sheepdog-obey-configuration
            sheepdog-obey-configuration?
            sheepdog-obey-service-type))

(define (shell-quote text)
  "TEXT as one word for /bin/sh, whatever it contains."
  (string-append "'" (string-join (string-split text #\') "'\\''") "'"))

(define (symbol-or-string? x)
  (or (symbol? x) (string? x)))

(define (sheepdog-accounts user group comment home)
  "USER in GROUP: a system account that cannot log in."
  (list (user-group (name group) (system? #t))
        (user-account
         (name user)
         (group group)
         (system? #t)
         (comment comment)
         (home-directory home)
         (shell (file-append shadow "/sbin/nologin")))))


;;;
;;; The heartbeat: an mcron job checking that a service answers, and
;;; restarting it through the Shepherd when it does not.
;;;

(define-configuration/no-serialization sheepdog-heartbeat-configuration
  (sheepdog
   (file-like sheepdog)
   "The sheepdog package providing @command{sd-heartbeat} and @command{sd-bark}.")
  (url
   (string "http://localhost/")
   "The URL checked.  It passes when it answers with a status in 200--399;
every address its host name resolves to is tried, so a server listening on
@code{::1} only passes a check of @code{http://localhost/}.")
  (timeout
   (string "5s")
   "How long the whole HTTP request may take, as a duration (@code{5s},
@code{1m}).  A check that takes longer fails with reason @code{timeout}.")
  (schedule
   (string "* * * * *")
   "When the check runs, in mcron's Vixie cron syntax (every minute by
default).")
  (user
   (string "sheepdog")
   "The unprivileged user the check runs as: @command{sd-heartbeat} starts as
root (so it can restart the service) and drops to this user before any
check touches the network.  The service creates it.")
  (group
   (string "sheepdog")
   "The group of @code{user}; the service creates it.")
  (shepherd-service
   (symbol-or-string 'mympd)
   "The Shepherd service to restart (@command{herd restart}) when the check
fails.  When @command{herd status} says it is stopped on purpose, nothing is
checked.")
  (after
   (integer 2)
   "Restart after this many failures in a row, counted across runs.")
  (max-restarts
   (string "3/1h")
   "At most this many restarts per window, so a broken service cannot cause a
restart storm."))

(define (sheepdog-heartbeat-accounts config)
  (match-record config <sheepdog-heartbeat-configuration> (user group)
    (sheepdog-accounts user group "sheepdog checks" "/var/empty")))

(define (sheepdog-heartbeat-jobs config)
  (match-record config <sheepdog-heartbeat-configuration>
    (sheepdog url timeout schedule user shepherd-service after max-restarts)
    (let ((service (if (symbol? shepherd-service)
                       (symbol->string shepherd-service)
                       shepherd-service)))
      (list #~(job #$schedule
                   (string-append
                    #$(file-append sheepdog "/bin/sd-heartbeat")
                    " --user " #$(shell-quote user)
                    " --http " #$(shell-quote url)
                    " --timeout " #$(shell-quote timeout)
                    " --shepherd " #$(shell-quote service)
                    " --after " #$(number->string after)
                    " --max-restarts " #$(shell-quote max-restarts)
                    " | " #$(file-append sheepdog "/bin/sd-bark")))))))

(define sheepdog-heartbeat-service-type
  (service-type
   (name 'sheepdog-heartbeat)
   (extensions
    (list (service-extension mcron-service-type sheepdog-heartbeat-jobs)
          (service-extension account-service-type sheepdog-heartbeat-accounts)))
   (default-value (sheepdog-heartbeat-configuration))
   (description
    "Check that a service answers over HTTP, as an unprivileged user, and
restart it through the Shepherd when it stops answering.")))


;;;
;;; The receiver: a Shepherd service storing every event of the herd.
;;;

(define-configuration/no-serialization sheepdog-receiver-configuration
  (sheepdog
   (file-like sheepdog)
   "The sheepdog package providing @command{sd-recv} and @command{sd-store}.")
  (group-name
   (string "store")
   "The Redis consumer group the receiver reads through; every group sees
every event.")
  (database
   (string "/var/lib/sheepdog/events.db")
   "The SQLite store the events are kept in (its directory is created).")
  (config-file
   (string "/etc/sheepdog/sheepdog.toml")
   "The sheepdog configuration file naming the broker (@code{[broker] url}).")
  (user
   (string "sheepdog")
   "The user the receiver runs as; the service creates it.")
  (group
   (string "sheepdog")
   "The group of @code{user}; the service creates it."))

(define (sheepdog-receiver-accounts config)
  (match-record config <sheepdog-receiver-configuration> (user group)
    (sheepdog-accounts user group "sheepdog receiver" "/var/lib/sheepdog")))

;; /var/lib/sheepdog, owned by the service's user.
(define (sheepdog-state-activation user)
  #~(begin
      (use-modules (guix build utils))
      (let ((pw (getpwnam #$user)))
        (mkdir-p "/var/lib/sheepdog")
        (chown "/var/lib/sheepdog" (passwd:uid pw) (passwd:gid pw)))))

(define (sheepdog-receiver-activation config)
  (match-record config <sheepdog-receiver-configuration> (user)
    (sheepdog-state-activation user)))

(define (sheepdog-receiver-shepherd-services config)
  (match-record config <sheepdog-receiver-configuration>
    (sheepdog group-name database config-file user group)
    (list (shepherd-service
           (provision '(sheepdog-receiver))
           (requirement '(networking))
           (documentation "Receive the herd's events and store them.")
           (start #~(make-forkexec-constructor
                     (list #$(file-append sheepdog "/bin/sd-recv")
                           "--group" #$group-name "--"
                           #$(file-append sheepdog "/bin/sd-store")
                           "--echo" #$database)
                     #:user #$user
                     #:group #$group
                     #:environment-variables
                     (list (string-append "SD_CONFIG=" #$config-file)
                           "SD_SPOOL=/var/lib/sheepdog/spool.db")))
           (stop #~(make-kill-destructor))
           (respawn? #t)))))

(define sheepdog-receiver-service-type
  (service-type
   (name 'sheepdog-receiver)
   (extensions
    (list (service-extension shepherd-root-service-type
                             sheepdog-receiver-shepherd-services)
          (service-extension account-service-type sheepdog-receiver-accounts)
          (service-extension activation-service-type
                             sheepdog-receiver-activation)))
   (default-value (sheepdog-receiver-configuration))
   (description
    "Run @command{sd-recv --group store -- sd-store --echo}: every event of
the herd kept in SQLite, acknowledged only once committed.")))


;;;
;;; Orders: each host obeys what the server signed, within its allow-list.
;;;

(define-configuration/no-serialization sheepdog-obey-configuration
  (sheepdog
   (file-like sheepdog)
   "The sheepdog package providing @command{sd-obey} and @command{sd-bark}.")
  (config-file
   (string "/etc/sheepdog/sheepdog.toml")
   "The sheepdog configuration file: @code{[obey] trusted_keys} and the
allow-list, one @code{[[action]]} table per action this host agrees to.")
  (ledger
   (string "/var/lib/sheepdog/obey.db")
   "The ledger of orders started and finished, which makes each order run at
most once, ever.")
  (user
   (string "sheepdog")
   "The user sd-obey and its actions run as; the service creates it.")
  (group
   (string "sheepdog")
   "The group of @code{user}; the service creates it."))

(define (sheepdog-obey-accounts config)
  (match-record config <sheepdog-obey-configuration> (user group)
    (sheepdog-accounts user group "sheepdog orders" "/var/lib/sheepdog")))

(define (sheepdog-obey-activation config)
  (match-record config <sheepdog-obey-configuration> (user)
    (sheepdog-state-activation user)))

(define (sheepdog-obey-shepherd-services config)
  (match-record config <sheepdog-obey-configuration>
    (sheepdog config-file ledger user group)
    (list (shepherd-service
           (provision '(sheepdog-obey))
           (requirement '(networking))
           (documentation "Obey the server's signed orders, within this host's allow-list.")
           (start #~(make-forkexec-constructor
                     (list "/bin/sh" "-c"
                           (string-append
                            "exec " #$(file-append sheepdog "/bin/sd-obey")
                            " --ledger " #$ledger
                            " | " #$(file-append sheepdog "/bin/sd-bark")))
                     #:user #$user
                     #:group #$group
                     #:environment-variables
                     (list (string-append "SD_CONFIG=" #$config-file)
                           "SD_SPOOL=/var/lib/sheepdog/spool.db")))
           (stop #~(make-kill-destructor))
           (respawn? #t)))))

(define sheepdog-obey-service-type
  (service-type
   (name 'sheepdog-obey)
   (extensions
    (list (service-extension shepherd-root-service-type
                             sheepdog-obey-shepherd-services)
          (service-extension account-service-type sheepdog-obey-accounts)
          (service-extension activation-service-type
                             sheepdog-obey-activation)))
   (default-value (sheepdog-obey-configuration))
   (description
    "Run @command{sd-obey | sd-bark}: the host checks every order the server
signed — its key, its expiry, this host's allow-list and the arguments' types
— runs each at most once, and reports every one as an event.")))
