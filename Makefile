# Build and install sheepdog the way Unix users expect:
#   make && sudo make install                 (build as yourself, install as root)
#   make install PREFIX=/usr DESTDIR=/tmp/pkg  (for packagers)
#   make deb                                   (a Debian package, target/debian/)
# Binaries go to $(BINDIR), man pages to $(MANDIR)/man1 and man7, and
# completions where bash-completion, zsh and fish look for them.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
BASHDIR    ?= $(DATADIR)/bash-completion/completions
ZSHDIR     ?= $(DATADIR)/zsh/site-functions
FISHDIR    ?= $(DATADIR)/fish/vendor_completions.d
CARGO      ?= cargo
# Where cargo puts what it builds; honours CARGO_TARGET_DIR like cargo.
TARGETDIR  ?= $(or $(CARGO_TARGET_DIR),target)
# Where the built binaries are (target/debug after a plain `cargo build`).
BUILDDIR   ?= $(TARGETDIR)/release

COMMANDS = sd-run sd-bark sd-recv sd-store sd-query sd-expect sd-facts sd-mail sd-heartbeat sd-order sd-obey sd-enroll sd-gate

all: build

# One program, sheepdog, is every command (linked under each name below).
build:
	$(CARGO) build --release --locked --bin sheepdog

# Installing builds only what is not built yet, so `sudo make install`
# after `make` needs no cargo in root's PATH and leaves target/ alone.
install: $(BUILDDIR)/sheepdog
	$(MAKE) install-files

$(BUILDDIR)/sheepdog:
	$(CARGO) build --release --locked --bin sheepdog

# Installs what is already built, without building (packagers, tests).
install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(BASHDIR) $(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR)
	install -m 755 $(BUILDDIR)/sheepdog $(DESTDIR)$(BINDIR)/sheepdog
	for c in $(COMMANDS); do \
	    ln -sf sheepdog $(DESTDIR)$(BINDIR)/$$c && \
	    install -m 644 man/$$c.1 $(DESTDIR)$(MANDIR)/man1/$$c.1 && \
	    install -m 644 completions/bash/$$c $(DESTDIR)$(BASHDIR)/$$c && \
	    install -m 644 completions/zsh/_$$c $(DESTDIR)$(ZSHDIR)/_$$c && \
	    install -m 644 completions/fish/$$c.fish $(DESTDIR)$(FISHDIR)/$$c.fish || exit 1; \
	done
	install -m 644 man/sheepdog.7 $(DESTDIR)$(MANDIR)/man7/sheepdog.7

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sheepdog
	for c in $(COMMANDS); do \
	    rm -f $(DESTDIR)$(BINDIR)/$$c $(DESTDIR)$(MANDIR)/man1/$$c.1 \
	        $(DESTDIR)$(BASHDIR)/$$c $(DESTDIR)$(ZSHDIR)/_$$c $(DESTDIR)$(FISHDIR)/$$c.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man7/sheepdog.7

check:
	sh tests/check.sh

# The Debian package of the tree, target/debian/sheepdog_VERSION_ARCH.deb
# (contrib/debian/build says what is in it): for the herd, where building
# Rust on every host is not an option.
deb: build
	contrib/debian/build $(BUILDDIR) $(TARGETDIR)/debian

.PHONY: all build install install-files uninstall check deb
