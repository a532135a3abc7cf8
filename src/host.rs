//! The machine's host name, read in one place for `host.name`, the default
//! `service.instance.id` and `sharding.index: from_hostname`.

/// The kernel's host name (`/proc/sys/kernel/hostname`, else `/etc/hostname`), trimmed;
/// `None` when neither gives one.
pub fn kernel_host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
}
