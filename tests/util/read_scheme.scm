;;; Reads every form of each file given, as Guile does, with the reader
;;; syntax Guix adds (#~ #$ #$@ #+ #+@, registered here as (guix gexp)
;;; does), and checks that every field of every define-configuration has
;;; its documentation. Exits 1 on the first problem, naming it.

(use-modules (ice-9 match))

(read-hash-extend #\~ (lambda (c port) (list 'gexp (read port))))
(define (unquoting plain splicing)
  (lambda (c port)
    (if (eqv? (peek-char port) #\@)
        (begin (read-char port) (list splicing (read port)))
        (list plain (read port)))))
(read-hash-extend #\$ (unquoting 'ungexp 'ungexp-splicing))
(read-hash-extend #\+ (unquoting 'ungexp-native 'ungexp-native-splicing))

(define (check-configuration file form)
  (match form
    (((or 'define-configuration 'define-configuration/no-serialization) name fields ...)
     (for-each
      (lambda (field)
        (match field
          ((field-name (type . default) (? string? doc))
           (when (< (string-length doc) 20)
             (format (current-error-port) "~a: ~a: field ~a: documentation too short~%"
                     file name field-name)
             (exit 1)))
          (_ (format (current-error-port) "~a: ~a: field without documentation: ~s~%"
                     file name field)
             (exit 1))))
      fields))
    (_ #t)))

(for-each
 (lambda (file)
   (call-with-input-file file
     (lambda (port)
       (let loop ((n 0))
         (let ((form (read port)))
           (if (eof-object? form)
               (format #t "~a: ~a forms~%" file n)
               (begin (check-configuration file form)
                      (loop (+ n 1)))))))))
 (cdr (command-line)))
