;;; sheepdog services for GNU Shepherd (1.0 or later).
;;;
;;; For a user's Shepherd, load it from ~/.config/shepherd/init.scm:
;;;   (load "/usr/local/share/sheepdog/shepherd/sheepdog.scm")
;;; For the system's, include it in the Shepherd configuration file.
;;; Adjust the paths, the checked URL and the service to restart below.

(use-modules (shepherd service)
             (shepherd service timer))

;; Where the sheepdog commands are installed.
(define sheepdog-bin "/usr/local/bin/")

(define (sd command)
  (string-append sheepdog-bin command))

;; A receiver: sd-recv reading through GROUP and feeding HANDLER, which
;; echoes what it has durably done with (the broker comes from
;; sheepdog.toml, [broker] url).
(define (sheepdog-receiver name group handler documentation)
  (service (list name)
    #:documentation documentation
    #:start (make-forkexec-constructor
             (append (list (sd "sd-recv") "--group" group "--") handler))
    #:stop (make-kill-destructor)
    #:respawn? #t))

;; Every event of the herd into the store, acknowledged once committed.
(define sheepdog-store
  (sheepdog-receiver 'sheepdog-store "store" (list (sd "sd-store") "--echo")
                     "Receive the herd's events from Redis and store them."))

;; State changes mailed once.
(define sheepdog-mail
  (sheepdog-receiver 'sheepdog-mail "mail" (list (sd "sd-mail") "--echo")
                     "Mail state changes of the herd, once."))

;; The heartbeat, as a timer: every 30 seconds, check that mympd answers
;; and restart it through Shepherd after two failures in a row. The pipe
;; to sd-bark needs a shell, which runs nothing else.
(define sheepdog-heartbeat
  (service '(sheepdog-heartbeat-mympd)
    #:documentation "Check that mympd answers; restart it when it does not."
    #:start (make-timer-constructor
             (calendar-event #:seconds '(0 30))
             (command
              (list "/bin/sh" "-c"
                    (string-append (sd "sd-heartbeat")
                                   " --http http://localhost:6680/"
                                   " --shepherd mympd --after 2 | "
                                   (sd "sd-bark")))))
    #:stop (make-timer-destructor)
    #:actions (list timer-trigger-action)))

;; The host's half of orders: obey what the server signed, within this
;; host's allow-list ([obey] and [[action]] in sheepdog.toml), every result
;; to the server through sd-bark. The pipe needs a shell, which runs
;; nothing else.
(define sheepdog-obey
  (service '(sheepdog-obey)
    #:documentation "Obey the server's signed orders, within this host's allow-list."
    #:start (make-forkexec-constructor
             (list "/bin/sh" "-c"
                   (string-append "exec " (sd "sd-obey") " | " (sd "sd-bark"))))
    #:stop (make-kill-destructor)
    #:respawn? #t))

(register-services (list sheepdog-store sheepdog-mail sheepdog-heartbeat sheepdog-obey))
(start-in-the-background '(sheepdog-store sheepdog-heartbeat-mympd))
