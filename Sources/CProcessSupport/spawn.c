#define _GNU_SOURCE
#include "CProcessSupport.h"
#include "spawn_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// MARK: - clone3 with CLONE_VM | CLONE_VFORK on a stack of its own
//
// posix_spawn's way (the child borrows the parent's memory; the parent sleeps until the child
// execs or exits), done by hand because glibc 2.36 has no way to pass CLONE_INTO_CGROUP. The
// child must not return into a C frame of the parent's stack: it starts on `stack` and calls
// `fn(arg)` from assembly, and `fn` never returns (it execs or _exits).

struct jobsd_clone_args {  // struct clone_args of <linux/sched.h>, version 2 (88 bytes)
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define JOBSD_CLONE_INTO_CGROUP 0x200000000ULL

#if defined(__x86_64__)
static long clone3_on_stack(struct jobsd_clone_args *args, void (*fn)(void *), void *arg) {
    long ret;
    register void (*r8)(void *) __asm__("r8") = fn;   // syscall preserves r8 and r9
    register void *r9 __asm__("r9") = arg;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        // The child: rsp is the top of its own stack (16-byte aligned); call fn(arg).
        "xor %%ebp, %%ebp\n\t"
        "mov %%r9, %%rdi\n\t"
        "call *%%r8\n\t"
        "hlt\n\t"
        "1:\n\t"
        : "=a"(ret)
        : "a"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r8), "r"(r9)
        : "rcx", "r11", "memory");
    return ret;
}
#else
// Other architectures: no cgroup spawn (the probe reports ENOSYS and jobsd uses its fallback).
static long clone3_on_stack(struct jobsd_clone_args *args, void (*fn)(void *), void *arg) {
    (void)args; (void)fn; (void)arg;
    return -ENOSYS;
}
#endif

/// Runs `fn(arg)` in a vfork-style child (shared memory, the calling thread sleeps until it
/// execs or exits), in the cgroup `cgroup_fd` when >= 0, with `exit_signal`. All signals are
/// blocked around the clone, so no handler of ours runs in the child. Returns the pid or -errno.
long jobsd_clone_vfork(void (*fn)(void *), void *arg, int cgroup_fd, int exit_signal) {
    // The child runs on this buffer while this thread sleeps (it is in our frame, unused by us).
    _Alignas(16) char stack[16384];
    struct jobsd_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_VM | CLONE_VFORK | (cgroup_fd >= 0 ? JOBSD_CLONE_INTO_CGROUP : 0);
    args.exit_signal = (uint64_t)exit_signal;
    args.stack = (uint64_t)(uintptr_t)stack;
    args.stack_size = sizeof stack;
    args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = clone3_on_stack(&args, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid;
}

// MARK: - The child before execve

void jobsd_reset_signal_dispositions(void) {
    // The kernel's struct sigaction on x86_64 and arm64: handler, flags, restorer, 64-bit mask.
    unsigned long dfl[4] = {(unsigned long)SIG_DFL, 0, 0, 0};
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, dfl, NULL, 8);
    }
}

/// v1 cgroups, rlimits, every signal back to its default action, a new session, fds 0–2, nothing
/// else open, the working directory, the user, an empty signal mask, execve. Only raw system
/// calls, through syscall(2): the child runs on the parent's memory and with its thread-local
/// storage, so glibc's wrappers (setuid's broadcast to all threads, a sanitizer's interceptors)
/// must not run. On failure the errno goes to `request->error`, then exit_group(127).
static void exec_child(void *arg) {
    struct jobsd_exec_request *request = arg;
    const struct jobsd_spawn_options *options = request->options;
    if (options != NULL) {
        for (int i = 0; i < options->v1_procs_count; i++) {
            if (syscall(SYS_write, options->v1_procs_fds[i], "0", 1) != 1) goto fail;
        }
        for (int i = 0; i < options->rlimit_count; i++) {
            unsigned long long limit[2] = {options->rlimit_soft[i], options->rlimit_hard[i]};
            if (syscall(SYS_prlimit64, 0, options->rlimit_resources[i], limit, NULL) != 0) goto fail;
        }
    }
    jobsd_reset_signal_dispositions();
    if (syscall(SYS_setsid) < 0) goto fail;
    for (int target = 0; target < 3; target++) {
        int fd = request->fds[target];
        if (fd == target) {
            if (syscall(SYS_fcntl, fd, F_SETFD, 0) < 0) goto fail;
        } else if (syscall(SYS_dup3, fd, target, 0) < 0) {
            goto fail;
        }
    }
    syscall(SYS_close_range, 3, ~0U, 0);
    if (request->cwd != NULL && syscall(SYS_chdir, request->cwd) < 0) goto fail;
    if (options != NULL && options->set_user) {
        if (syscall(SYS_setgroups, (long)options->group_count, options->groups) != 0) goto fail;
        if (syscall(SYS_setresgid, options->gid, options->gid, options->gid) != 0) goto fail;
        if (syscall(SYS_setresuid, options->uid, options->uid, options->uid) != 0) goto fail;
    }
    unsigned long none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
    syscall(SYS_execve, request->path, request->argv, request->envp);
fail:
    request->error = errno;
    syscall(SYS_exit_group, 127);
}

int jobsd_exec_in_child(struct jobsd_exec_request *request, int cgroup_fd, pid_t *pid) {
    request->error = 0;
    long rc = jobsd_clone_vfork(exec_child, request, cgroup_fd, SIGCHLD);
    if (rc < 0) return (int)-rc;
    // The child has exec'd or exited; with CLONE_VFORK its error (if any) is written by now.
    if (request->error != 0) {
        int status;
        while (waitpid((pid_t)rc, &status, 0) < 0 && errno == EINTR) {}
        return request->error;
    }
    *pid = (pid_t)rc;
    return 0;
}

// MARK: - Public

/// The exit of a child raises SIGCHLD, aimed at the thread that spawned it. With the default
/// disposition (ignore) the kernel drops it at once — unless that thread blocks it (threads of
/// the Swift concurrency pool do): then it is queued for the process and wakes a thread that
/// does not (libdispatch's main thread, asleep in sigsuspend), only to be discarded. One wasted
/// wake-up per job; exits reach the reaper through waitid, never through the signal. So the
/// spawning thread leaves SIGCHLD unblocked (once per thread). A handler someone installs for
/// SIGCHLD may then run on such a thread, which is fine for any async-signal-safe handler.
static void unblock_child_exit_signal(void) {
    static __thread int done;
    if (done) return;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    done = pthread_sigmask(SIG_UNBLOCK, &chld, NULL) == 0;
}

int jobsd_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const char *cwd, int in_fd, int out_fd, int err_fd, const struct jobsd_spawn_options *options) {
    unblock_child_exit_signal();
    struct jobsd_exec_request request = {
        .path = path, .argv = argv, .envp = envp, .cwd = cwd, .fds = {in_fd, out_fd, err_fd}, .options = options,
    };
    return jobsd_exec_in_child(&request, options != NULL ? options->cgroup_fd : -1, pid);
}

/// exit_group by the raw system call: glibc's _exit is intercepted by ThreadSanitizer, whose
/// bookkeeping (run on the parent's thread state, which this child shares) then reports "thread
/// finished with ignores enabled" and makes the whole test process exit 66.
static void exit_at_once(void *arg) {
    (void)arg;
    syscall(SYS_exit_group, 0);
}

int jobsd_cgroup_probe(int cgroup_fd) {
    // exit_signal 0 makes it a "clone" child: invisible to waitid(P_ALL) without __WCLONE, so
    // the reaper thread never takes it.
    long rc = jobsd_clone_vfork(exit_at_once, NULL, cgroup_fd, 0);
    if (rc < 0) return (int)-rc;
    int status;
    while (waitpid((pid_t)rc, &status, __WCLONE) < 0 && errno == EINTR) {}
    return 0;
}
