// System calls Swift cannot reach directly. Those glibc 2.36 has no wrapper for: openat2 (Linux 5.6+), which resolves a path
// strictly inside a directory (RESOLVE_IN_ROOT), as if that directory were `/`.
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/openat2.h>
#include <linux/stat.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_statx
#define SYS_statx 332
#endif

// O_PATH: a handle on a path that opens nothing (glibc declares it only under _GNU_SOURCE,
// which Swift's Glibc module is not built with).
static const int S4A_O_PATH = 010000000;

static inline int s4a_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
                              unsigned long long resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

// The magic number of the filesystem `fd` is on (statfs(2)'s f_type), or -1.
static inline long s4a_filesystem_type(int fd) {
    struct statfs info;
    return fstatfs(fd, &info) == 0 ? (long)info.f_type : -1;
}

// The id of the mount `fd` is on (statx(2)'s STATX_MNT_ID, Linux 5.8+), or -1: tells a bind
// mount from the directory it sits in even when both are on one device.
static inline long long s4a_mount_id(int fd) {
    struct statx info;
    if (syscall(SYS_statx, fd, "", 0x1000 /* AT_EMPTY_PATH */, 0x1000 /* STATX_MNT_ID */, &info) != 0) return -1;
    return (info.stx_mask & 0x1000) ? (long long)info.stx_mnt_id : -1;
}

#include <sys/prctl.h>

// Makes the caller the reaper of its orphaned descendants (prctl is variadic: Swift cannot call it).
static inline int s4a_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

#include <sys/socket.h>

// accept4(2) with SOCK_CLOEXEC (glibc declares accept4 only under _GNU_SOURCE): a connection
// never leaks into a process spawned at the same moment.
static inline int s4a_accept_cloexec(int fd) {
    return (int)syscall(SYS_accept4, fd, 0, 0, SOCK_CLOEXEC);
}
