//! The process's open-file limit (`RLIMIT_NOFILE`): every connection is a
//! descriptor, so the limit, not `--max-connections`, is what a server
//! started with a shell's default of 1024 runs into.
//!
//! At start [`raise`] lifts the soft limit to the hard one (allowed without
//! privileges) and warns, in one line, when even that is below
//! `--max-connections` plus [`OWN_FILES`]. [`SpareFd`] is the descriptor the
//! accept loop keeps for the moment the table is full anyway. Unix only;
//! elsewhere these do nothing. No unsafe code: rustix makes the calls.

/// Descriptors the server needs besides its connections: standard streams,
/// the runtime's epoll and wake-ups, the listener, the spare, static files
/// being served and `/proc` reads for `/metrics`, with room to spare.
pub const OWN_FILES: u64 = 64;

/// Raises the soft open-file limit to the hard limit and warns when it is
/// below `max_connections` plus [`OWN_FILES`]. Returns the soft limit now
/// in force (`None`: unlimited or unknown).
pub fn raise(max_connections: u32) -> Option<u64> {
    let limit = imp::raise();
    let needed = u64::from(max_connections) + OWN_FILES;
    if let Some(limit) = limit.filter(|&limit| limit < needed) {
        tracing::warn!(
            limit,
            needed,
            "the open-file limit (RLIMIT_NOFILE) is {limit}, below --max-connections \
             {max_connections} plus {OWN_FILES} for the server's own files: clients past it \
             get 503; raise it (LimitNOFILE= in a systemd unit, ulimit -n in a shell) or \
             lower --max-connections"
        );
    }
    limit
}

/// Whether an accept error means the process or the system is out of file
/// descriptors (`EMFILE`, `ENFILE`).
#[must_use]
pub fn is_exhausted(err: &std::io::Error) -> bool {
    imp::is_exhausted(err)
}

/// A descriptor held back for when the table is full: closing it lets the
/// accept loop take one waiting client and answer it.
#[derive(Debug)]
pub struct SpareFd(Option<std::fs::File>);

impl SpareFd {
    /// Opens the spare (`/dev/null`); without one, [`SpareFd::release`]
    /// reports there is nothing to free.
    #[must_use]
    pub fn open() -> SpareFd {
        SpareFd(imp::spare())
    }

    /// Whether the spare is open.
    #[must_use]
    pub fn is_held(&self) -> bool {
        self.0.is_some()
    }

    /// Closes the spare; false when it was not open.
    pub fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Opens the spare again; false when no descriptor was free for it.
    pub fn restore(&mut self) -> bool {
        if self.0.is_none() {
            self.0 = imp::spare();
        }
        self.0.is_some()
    }
}

#[cfg(unix)]
mod imp {
    use rustix::io::Errno;
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    /// The largest soft limit tried when the hard limit is unlimited
    /// (Linux's default `nr_open`).
    const UNLIMITED_CAP: u64 = 1 << 20;

    pub fn raise() -> Option<u64> {
        let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
        let target = maximum.unwrap_or(UNLIMITED_CAP);
        if current.is_some_and(|soft| soft < target) {
            let raised = Rlimit {
                current: Some(target),
                maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => tracing::info!(
                    from = current,
                    to = target,
                    "raised the open-file limit to its hard limit"
                ),
                Err(err) => tracing::debug!(%err, "cannot raise the open-file limit"),
            }
        }
        getrlimit(Resource::Nofile).current
    }

    pub fn is_exhausted(err: &std::io::Error) -> bool {
        matches!(Errno::from_io_error(err), Some(Errno::MFILE | Errno::NFILE))
    }

    pub fn spare() -> Option<std::fs::File> {
        std::fs::File::open("/dev/null").ok()
    }
}

#[cfg(not(unix))]
mod imp {
    pub fn raise() -> Option<u64> {
        None
    }

    pub fn is_exhausted(_err: &std::io::Error) -> bool {
        false
    }

    pub fn spare() -> Option<std::fs::File> {
        None
    }
}
