;;; The sheepdog package for GNU Guix.
;;;
;;; Build it from a checkout with: guix build -L contrib/guix sheepdog
;;; Its Rust dependencies are the crates of Cargo.lock; generate their
;;; package definitions with `guix import crate --lockfile=Cargo.lock
;;; sheepdog` and add them to this module's inputs as Guix's own Rust
;;; packages do.

(define-module (sheepdog packages)
  #:use-module (guix packages)
  #:use-module (guix gexp)
  #:use-module (guix git-download)
  #:use-module (guix build-system cargo)
  #:use-module ((guix licenses) #:prefix license:)
  #:use-module (gnu packages base)
  #:export (sheepdog))

(define %checkout
  ;; The repository this file belongs to: contrib/guix/sheepdog/../../..
  (string-append (dirname (dirname (dirname (current-source-directory))))))

(define sheepdog
  (package
    (name "sheepdog")
    (version "0.1.0")
    (source (local-file %checkout "sheepdog-checkout"
                        #:recursive? #t
                        #:select? (git-predicate %checkout)))
    (build-system cargo-build-system)
    (arguments
     (list
      #:install-source? #f
      #:phases
      #~(modify-phases %standard-phases
          ;; Man pages and shell completions, where Unix users expect them.
          (add-after 'install 'install-documentation
            (lambda _
              (invoke "make" "install-files"
                      (string-append "PREFIX=" #$output)
                      "BUILDDIR=target/release"))))))
    (native-inputs (list gnu-make))
    (home-page "https://example.org/sheepdog")
    (synopsis "Keep a herd of machines sane: run, check, collect, ask, mail")
    (description
     "sheepdog is a toolkit of small commands speaking JSON lines: sd-run
wraps cron jobs, sd-heartbeat checks services and restarts them, sd-bark
sends events through Redis Streams, sd-recv and sd-store keep them in
SQLite, sd-query answers questions about the herd, and sd-mail tells a
person when something really goes wrong, once.")
    (license license:gpl3+)))
