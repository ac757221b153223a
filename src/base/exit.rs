//! The one exit-status policy every sheepdog command follows (docs/ARCHITECTURE.md §4).
//!
//! Scripts and service managers act on these numbers, so they live in one
//! place, are tested here, and are written into every man page from
//! [`Exit::ALL`].

/// Why a sheepdog command ended. `sd-run` alone may also end with its job's
/// own code, which is not one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// All good.
    Ok,
    /// The watched thing failed.
    Failed,
    /// Usage or configuration error.
    Usage,
    /// Some input lines were rejected (sysexits `EX_DATAERR`).
    DataErr,
    /// The broker was unavailable; events were spooled, nothing lost
    /// (`EX_UNAVAILABLE`).
    Unavailable,
    /// Local I/O failed: spool or store unwritable (`EX_IOERR`).
    IoErr,
    /// Not now, try later: a lock is held, the SMTP server is away
    /// (`EX_TEMPFAIL`).
    TempFail,
    /// A job ran past its `--timeout` (as `timeout(1)` does).
    Timeout,
    /// A check could not be run.
    CannotCheck,
    /// The command to run could not be executed (permission denied, as
    /// shells do).
    NotExecutable,
    /// The command to run was not found (as shells do).
    NotFound,
}

impl Exit {
    /// Every status, in numeric order, for man pages and tests.
    pub const ALL: [Exit; 11] = [
        Exit::Ok,
        Exit::Failed,
        Exit::Usage,
        Exit::DataErr,
        Exit::Unavailable,
        Exit::IoErr,
        Exit::TempFail,
        Exit::Timeout,
        Exit::CannotCheck,
        Exit::NotExecutable,
        Exit::NotFound,
    ];

    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::DataErr => 65,
            Exit::Unavailable => 69,
            Exit::IoErr => 74,
            Exit::TempFail => 75,
            Exit::Timeout => 124,
            Exit::CannotCheck => 125,
            Exit::NotExecutable => 126,
            Exit::NotFound => 127,
        }
    }

    /// One line for the EXIT STATUS section of a man page.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "all good",
            Exit::Failed => "the watched thing failed",
            Exit::Usage => "usage or configuration error",
            Exit::DataErr => "some input lines were rejected (the good ones were still processed)",
            Exit::Unavailable => "the broker was unavailable (events were spooled, nothing lost)",
            Exit::IoErr => "local I/O failed (spool or store unwritable)",
            Exit::TempFail => "not now, try later (a lock is held, the SMTP server is away)",
            Exit::Timeout => "sd-run: the job ran past --timeout",
            Exit::CannotCheck => "a check could not be run",
            Exit::NotExecutable => "sd-run: the command could not be executed",
            Exit::NotFound => "sd-run: the command was not found",
        }
    }

    /// The worse of two outcomes: a run that rejected lines *and* could not
    /// reach the broker reports the broker, since that is what needs action.
    pub fn worst(self, other: Exit) -> Exit {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    fn severity(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::DataErr => 1,
            Exit::Failed => 2,
            Exit::TempFail => 3,
            Exit::Unavailable => 4,
            Exit::CannotCheck => 5,
            Exit::Timeout | Exit::NotExecutable | Exit::NotFound => 6,
            Exit::IoErr => 7,
            Exit::Usage => 8,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// The exit status of a process that died of signal `n`, as shells report
/// it.
pub fn for_signal(n: i32) -> u8 {
    (128 + n).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 65, 69, 74, 75, 124, 125, 126, 127]);
    }

    #[test]
    fn every_code_has_a_meaning() {
        for exit in Exit::ALL {
            assert!(!exit.meaning().is_empty(), "{exit:?}");
        }
    }

    #[test]
    fn worst_prefers_what_needs_action() {
        assert_eq!(Exit::Ok.worst(Exit::DataErr), Exit::DataErr);
        assert_eq!(Exit::DataErr.worst(Exit::Unavailable), Exit::Unavailable);
        assert_eq!(Exit::Unavailable.worst(Exit::DataErr), Exit::Unavailable);
        assert_eq!(Exit::IoErr.worst(Exit::Unavailable), Exit::IoErr);
        assert_eq!(Exit::Ok.worst(Exit::Ok), Exit::Ok);
    }

    #[test]
    fn signals_map_like_shells() {
        assert_eq!(for_signal(9), 137);
        assert_eq!(for_signal(15), 143);
    }
}
