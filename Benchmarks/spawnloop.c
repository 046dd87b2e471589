// spawnloop: what the machine can physically do, as the reference for jobsd's benchmarks.
//
//   spawnloop rate THREADS SECONDS  posix_spawn+waitpid of /bin/true in THREADS loops -> spawns/s
//   spawnloop startlat N            spawn `spawnloop stamp` (itself), which prints CLOCK_MONOTONIC at its
//                                   main(); latency = that stamp - the time just before posix_spawn
//   spawnloop killlat N             spawn `sleep 60` in its own process group; time from
//                                   kill(-pgid, SIGTERM) to waitpid returning it
//   spawnloop stamp                 print CLOCK_MONOTONIC in nanoseconds and exit
//
// Every mode prints one JSON object on stdout. Build: cc -O2 -static -pthread -o spawnloop spawnloop.c
// (static, so `stamp` starts without the dynamic loader: the start-latency figures then measure
// the spawner, jobsd or this loop, not ld.so).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err) {
    fprintf(stderr, "spawnloop: %s: %s\n", what, strerror(err));
    exit(1);
}

static pid_t spawn(const char *path, char *const argv[], posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr) {
    pid_t pid;
    int err = posix_spawn(&pid, path, fa, attr, argv, environ);
    if (err != 0) die(path, err);
    return pid;
}

static void reap(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid", errno);
    }
}

static int compare(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/// Prints p50/p99/max (microseconds) of `n` samples in nanoseconds.
static void print_latencies(const char *mode, int64_t *samples, int n) {
    qsort(samples, n, sizeof *samples, compare);
    printf("{\"mode\":\"%s\",\"count\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n", mode, n,
           samples[n / 2] / 1e3, samples[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3, samples[n - 1] / 1e3);
}

// MARK: - rate

struct loop { int64_t deadline; long spawns; };

static void *spawn_loop(void *arg) {
    struct loop *l = arg;
    char *argv[] = {"true", NULL};
    while (now_ns() < l->deadline) {
        reap(spawn("/bin/true", argv, NULL, NULL));
        l->spawns++;
    }
    return NULL;
}

static int rate(int threads, double seconds) {
    pthread_t tid[64];
    struct loop loops[64];
    if (threads < 1 || threads > 64) threads = 2;
    int64_t start = now_ns();
    for (int i = 0; i < threads; i++) {
        loops[i] = (struct loop){start + (int64_t)(seconds * 1e9), 0};
        pthread_create(&tid[i], NULL, spawn_loop, &loops[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += loops[i].spawns;
    }
    double elapsed = (now_ns() - start) / 1e9;
    printf("{\"mode\":\"rate\",\"threads\":%d,\"seconds\":%.3f,\"spawns\":%ld,\"per_second\":%.1f,\"per_spawn_us\":%.1f}\n",
           threads, elapsed, total, total / elapsed, elapsed * threads / (total ? total : 1) * 1e6);
    return 0;
}

// MARK: - start latency

static int startlat(const char *self, int n) {
    int64_t *samples = calloc(n, sizeof *samples);
    char *argv[] = {(char *)self, "stamp", NULL};
    for (int i = 0; i < n; i++) {
        int fds[2];
        if (pipe(fds) != 0) die("pipe", errno);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_addclose(&fa, fds[0]);
        int64_t t0 = now_ns();
        pid_t pid = spawn(self, argv, &fa, NULL);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        char buf[64] = {0};
        ssize_t got = 0, r;
        while ((r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += r;
        close(fds[0]);
        reap(pid);
        samples[i] = strtoll(buf, NULL, 10) - t0;
    }
    print_latencies("startlat", samples, n);
    return 0;
}

// MARK: - cancel latency

static int killlat(int n) {
    int64_t *samples = calloc(n, sizeof *samples);
    char *argv[] = {"sleep", "60", NULL};
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    for (int i = 0; i < n; i++) {
        // glibc's posix_spawn returns after the exec, so sleep is running with default signal dispositions.
        pid_t pid = spawn("/bin/sleep", argv, NULL, &attr);
        int64_t t0 = now_ns();
        if (kill(-pid, SIGTERM) != 0) die("kill", errno);
        reap(pid);
        samples[i] = now_ns() - t0;
    }
    print_latencies("killlat", samples, n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "stamp") == 0) {
        printf("%lld\n", (long long)now_ns());
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "rate") == 0) return rate(atoi(argv[2]), atof(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "startlat") == 0) return startlat("/proc/self/exe", atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "killlat") == 0) return killlat(atoi(argv[2]));
    fprintf(stderr, "usage: spawnloop rate THREADS SECONDS | startlat N | killlat N | stamp\n");
    return 2;
}
