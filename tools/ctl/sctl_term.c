/*
 * sctl_term.c - the terminal of `sidecorectl top` (sctl_term.h: why plain
 * escapes and not ncurses).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "sctl_term.h"
#include "sctl_top.h"

#define ENTER "\033[?1049h\033[?25l\033[H\033[2J" /* alternate screen, no cursor */
#define LEAVE "\033[0m\033[?25h\033[?1049l"       /* attributes, cursor, main screen */

static struct termios saved;
static volatile sig_atomic_t is_open, resized, quit_sig;
static unsigned cur_rows = 24, cur_cols = 80;
static unsigned char inbuf[64];
static size_t in_len, in_off;

static void put_raw(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* The terminal as we want it: no echo, keys as they are typed; ISIG stays,
 * so ^C and ^Z reach us as signals and take the same path as kill(1)'s. */
static void enter(void)
{
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSADRAIN, &t);
    put_raw(ENTER);
}

/* Only async-signal-safe calls: this runs from the SIGTSTP handler too. */
static void leave(void)
{
    put_raw(LEAVE);
    tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
}

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

static void on_quit(int sig)
{
    quit_sig = sig;
}

/* ^Z: the shell gets its terminal back as it lent it; fg puts ours back. */
static void on_tstp(int sig)
{
    int saved_errno = errno;
    leave();
    struct sigaction dfl = { .sa_handler = SIG_DFL }, self = { .sa_handler = on_tstp };
    sigemptyset(&dfl.sa_mask);
    sigemptyset(&self.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig); /* stops here until SIGCONT */
    sigaction(sig, &self, NULL);
    if (is_open)
        enter();
    resized = 1;
    errno = saved_errno;
}

static void handle(int sig, void (*fn)(int))
{
    /* no SA_RESTART: poll() returns at once to act on it */
    struct sigaction sa = { .sa_handler = fn };
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int sctl_term_open(void)
{
    const char *term = getenv("TERM");
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || !term || !*term ||
        strcmp(term, "dumb") == 0)
        return -ENOTTY;
    if (tcgetattr(STDIN_FILENO, &saved) < 0)
        return -errno;
    /* a frame is one write(), not a line at a time */
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    handle(SIGWINCH, on_winch);
    handle(SIGINT, on_quit);
    handle(SIGTERM, on_quit);
    handle(SIGHUP, on_quit);
    handle(SIGTSTP, on_tstp);
    is_open = 1;
    atexit(sctl_term_close);
    enter();
    resized = 1;
    return 0;
}

void sctl_term_close(void)
{
    if (!is_open)
        return;
    is_open = 0;
    fflush(stdout);
    leave();
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGWINCH, &dfl, NULL);
    sigaction(SIGTSTP, &dfl, NULL);
}

void sctl_term_size(unsigned *rows, unsigned *cols)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        cur_rows = ws.ws_row;
        cur_cols = ws.ws_col;
    }
    *rows = cur_rows;
    *cols = cur_cols;
}

bool sctl_term_resized(void)
{
    bool r = resized;
    resized = 0;
    return r;
}

int sctl_term_quit_signal(void)
{
    return quit_sig;
}

/* The next byte already read, or -1. */
static int next_byte(void)
{
    return in_off < in_len ? inbuf[in_off++] : -1;
}

/* An escape sequence's rest: arrows left and right mean something, any
 * other sequence (other keys, a terminal's reports) is swallowed whole so
 * its letters are not taken for keys. */
static int escape(void)
{
    int c = next_byte();
    if (c != '[' && c != 'O')
        return 0x1b;
    while ((c = next_byte()) >= 0 && !(c >= 0x40 && c <= 0x7e))
        ;
    return c == 'D' ? SCTL_KEY_LEFT : c == 'C' ? SCTL_KEY_RIGHT : 0x1b;
}

int sctl_term_key(int timeout_ms)
{
    if (in_off >= in_len) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
        int n = poll(&p, 1, timeout_ms);
        if (n <= 0)
            return n < 0 && errno != EINTR ? -1 : 0;
        ssize_t r = read(STDIN_FILENO, inbuf, sizeof(inbuf));
        if (r < 0)
            return errno == EINTR || errno == EAGAIN ? 0 : -1;
        if (r == 0)
            return -1;
        in_len = (size_t)r;
        in_off = 0;
    }
    int c = next_byte();
    /* a sequence comes in one read; an ESC alone is just ESC */
    return c == 0x1b ? escape() : c;
}

void sctl_term_frame_begin(void)
{
    printf("\033[H");
}

void sctl_term_line(unsigned row, const char *text, bool heading)
{
    if (row >= cur_rows)
        return;
    size_t len = strlen(text), width = cur_cols;
    if (row + 1 == cur_rows && width > 1)
        width--;
    if (len > width)
        len = width;
    printf("\033[%u;1H", row + 1);
    if (heading) {
        printf("\033[7m%-*.*s\033[0m", (int)width, (int)len, text);
        return;
    }
    printf("%.*s", (int)len, text);
    /* EL only short of the edge: at it, xterm would erase the last character */
    if (len < width)
        printf("\033[K");
}

void sctl_term_frame_end(unsigned nlines)
{
    if (nlines < cur_rows)
        printf("\033[%u;1H\033[J", nlines + 1);
    fflush(stdout);
}
