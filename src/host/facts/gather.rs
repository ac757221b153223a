//! Reading the machine's indicators from /proc, statvfs(3) and the
//! package manager, under the fact names of sheepdog(7), FACTS.

use serde_json::{Map, Value};
use std::path::Path;
use std::process::Command;

/// Filesystems that hold no data of their own (memory, kernel views,
/// containers' layers); their use is not a disk's use.
const PSEUDO_FILESYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "bpf",
    "binfmt_misc",
    "autofs",
    "rpc_pipefs",
    "nsfs",
    "overlay",
    "squashfs",
    "ramfs",
    "efivarfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "nfsd",
    "selinuxfs",
];

pub struct Disk {
    pub mount: String,
    pub size_bytes: u64,
    pub used_pct: f64,
}

/// Everything but packages and disks, in the order of sheepdog(7), FACTS.
pub fn system(facts: &mut Map<String, Value>) {
    let full_name = nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_default();
    facts.insert("hostname".into(), full_name.into());
    if let Some(os) = os_release(Path::new("/etc/os-release")) {
        facts.insert("os".into(), os.into());
    }
    if let Ok(uname) = nix::sys::utsname::uname() {
        facts.insert(
            "kernel".into(),
            uname.release().to_string_lossy().into_owned().into(),
        );
    }
    if let Some(uptime) =
        read("/proc/uptime").and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
    {
        facts.insert("uptime_s".into(), (uptime as u64).into());
    }
    if let Some(load) = read("/proc/loadavg") {
        for (name, value) in ["load1", "load5", "load15"]
            .iter()
            .zip(load.split_whitespace())
        {
            if let Ok(x) = value.parse::<f64>() {
                facts.insert((*name).into(), x.into());
            }
        }
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    facts.insert("cpus".into(), cpus.into());
    if let Some(meminfo) = read("/proc/meminfo") {
        for (field, name) in [
            ("MemTotal", "mem_total_bytes"),
            ("MemAvailable", "mem_available_bytes"),
            ("SwapTotal", "swap_total_bytes"),
            ("SwapFree", "swap_free_bytes"),
        ] {
            if let Some(kib) = meminfo_kib(&meminfo, field) {
                facts.insert(name.into(), (kib * 1024).into());
            }
        }
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// PRETTY_NAME from os-release(5).
pub fn os_release(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim().trim_matches('"').to_string())
    })
}

fn meminfo_kib(meminfo: &str, field: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Every mounted real filesystem, once per mount point.
// statvfs counts are u64 here but narrower on some 32-bit targets.
#[allow(clippy::useless_conversion)]
pub fn disks() -> Vec<Disk> {
    let Some(mounts) = read("/proc/self/mounts") else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    let mut disks = Vec::new();
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_device), Some(mount), Some(kind)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if PSEUDO_FILESYSTEMS.contains(&kind) || !seen.insert(mount.to_string()) {
            continue;
        }
        // /proc/self/mounts escapes spaces and the like as \040.
        let mount = unescape_mount(mount);
        let Ok(stat) = nix::sys::statvfs::statvfs(mount.as_str()) else {
            continue;
        };
        let block = u64::from(stat.fragment_size());
        let size = u64::from(stat.blocks()) * block;
        if size == 0 {
            continue;
        }
        let free = u64::from(stat.blocks_free()) * block;
        let available = u64::from(stat.blocks_available()) * block;
        let used = size - free;
        // As df(1) counts it: used of what non-root users could have.
        let used_pct = if used + available == 0 {
            0.0
        } else {
            100.0 * used as f64 / (used + available) as f64
        };
        disks.push(Disk {
            mount,
            size_bytes: size,
            used_pct: (used_pct * 10.0).round() / 10.0,
        });
    }
    disks
}

fn unescape_mount(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.clone().take(3).collect();
            if code.len() == 3
                && let Ok(n) = u8::from_str_radix(&code, 8)
            {
                out.push(n as char);
                for _ in 0..3 {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Installed packages and their versions, from the first package manager
/// found: dpkg, rpm, apk, or a Guix profile. `only` limits the names.
pub fn packages(only: Option<&[String]>) -> Vec<(String, String)> {
    let mut found = if have("dpkg-query") {
        lines_of(Command::new("dpkg-query").args([
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Version}\n",
        ]))
        .into_iter()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let status = f.next()?;
            // Only installed packages: "ii " (not removed ones with config left).
            (status.starts_with("ii")).then_some(())?;
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
    } else if have("rpm") {
        split_pairs(lines_of(Command::new("rpm").args([
            "-qa",
            "--qf",
            "%{NAME}\t%{VERSION}-%{RELEASE}\n",
        ])))
    } else if have("apk") {
        lines_of(Command::new("apk").args(["list", "--installed"]))
            .into_iter()
            .filter_map(|l| apk_package(&l))
            .collect()
    } else if have("guix") {
        split_pairs(lines_of(
            Command::new("guix").args(["package", "--list-installed"]),
        ))
    } else {
        Vec::new()
    };
    if let Some(only) = only {
        found.retain(|(name, _)| only.iter().any(|o| o == name));
    }
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    found
}

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn lines_of(command: &mut Command) -> Vec<String> {
    command
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn split_pairs(lines: Vec<String>) -> Vec<(String, String)> {
    lines
        .into_iter()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.trim().to_string(), f.next()?.trim().to_string()))
        })
        .collect()
}

/// `nginx-1.24.0-r7 x86_64 {nginx} (BSD-2-Clause) [installed]` → name, version.
fn apk_package(line: &str) -> Option<(String, String)> {
    let full = line.split_whitespace().next()?;
    let mut parts: Vec<&str> = full.rsplitn(3, '-').collect();
    parts.reverse();
    if parts.len() != 3 {
        return None;
    }
    Some((parts[0].to_string(), format!("{}-{}", parts[1], parts[2])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape_mount("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_mount("/var"), "/var");
    }

    #[test]
    fn apk_lines_split_into_name_and_version() {
        assert_eq!(
            apk_package("nginx-1.24.0-r7 x86_64 {nginx} (BSD-2-Clause) [installed]"),
            Some(("nginx".into(), "1.24.0-r7".into()))
        );
        assert_eq!(
            apk_package("py3-foo-bar-2.1-r0 noarch {x} (MIT) [installed]"),
            Some(("py3-foo-bar".into(), "2.1-r0".into()))
        );
    }

    #[test]
    fn meminfo_fields() {
        let text = "MemTotal:        2048000 kB\nMemFree:  10 kB\nMemAvailable:    1024000 kB\n";
        assert_eq!(meminfo_kib(text, "MemTotal"), Some(2_048_000));
        assert_eq!(meminfo_kib(text, "MemAvailable"), Some(1_024_000));
        assert_eq!(meminfo_kib(text, "Swap"), None);
    }
}
