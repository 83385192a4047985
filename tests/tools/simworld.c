#include "simworld.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#include "xensim.h"

const char *simworld_bin(const char *name)
{
    static char path[4096];
    const char *build = getenv("SC_BUILD");
    snprintf(path, sizeof(path), "%s/bin/%s", build ? build : "build", name);
    return path;
}

const char *simworld_xs_path(const struct simworld *w, domid_t domid)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/xs-%u.sock", w->dir, domid);
    return path;
}

int simworld_start(struct simworld *w)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof(w->dir), "%s/xensim.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(w->dir))
        return -errno;

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC))
        return -errno;
    char xensimd[4096];
    snprintf(xensimd, sizeof(xensimd), "%s", simworld_bin("xensimd"));

    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(pipefd[0]);
        int wfd = dup(pipefd[1]); /* without CLOEXEC */
        char fdarg[16];
        snprintf(fdarg, sizeof(fdarg), "%d", wfd);
        execl(xensimd, "xensimd", "--dir", w->dir, "--ready-fd", fdarg, (char *)NULL);
        fprintf(stderr, "simworld: exec %s: %s\n", xensimd, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    w->pid = pid;

    struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
    char buf[8] = { 0 };
    int ready = poll(&pfd, 1, 20000) == 1 && read(pipefd[0], buf, sizeof(buf)) > 0 &&
                strncmp(buf, "ready", 5) == 0;
    close(pipefd[0]);
    if (!ready) {
        simworld_stop(w);
        return -ETIMEDOUT;
    }
    return 0;
}

void simworld_stop(struct simworld *w)
{
    if (w->pid > 0) {
        kill(w->pid, SIGTERM);
        for (int i = 0; i < 500; i++) {
            if (waitpid(w->pid, NULL, WNOHANG) == w->pid)
                goto reaped;
            usleep(10000);
        }
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
    reaped:
        w->pid = 0;
    }
    if (w->dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "simworld: could not remove %s\n", w->dir);
        w->dir[0] = '\0';
    }
}

int simworld_start_as_dom0(struct simworld *w, struct xsim **dom0)
{
    int ret = simworld_start(w);
    if (ret < 0)
        return ret;
    *dom0 = xsim_open(w->dir, 0);
    if (!*dom0)
        return -errno;
    setenv("XENSIM_DIR", w->dir, 1);
    unsetenv("XENSIM_DOMID");
    return 0;
}

int simworld_start_with_guest(struct simworld *w, const char *name, struct xsim **dom0)
{
    int ret = simworld_start_as_dom0(w, dom0);
    if (ret < 0)
        return ret;
    int id = xsim_domain_create(*dom0, name, 16);
    return id > 0 ? id : (id < 0 ? id : -EINVAL);
}
