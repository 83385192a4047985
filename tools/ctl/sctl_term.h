/*
 * sctl_term.h - the terminal of `sidecorectl top`: cbreak mode (termios),
 * the alternate screen, a frame drawn with a few VT100/ANSI escapes, keys,
 * and the signals that concern a full-screen program (SIGWINCH, SIGINT,
 * SIGTERM, SIGHUP, SIGTSTP/SIGCONT).
 *
 * Plain escapes rather than ncurses: the frame is redrawn whole once a
 * second in one write (a few KB: curses' screen diffing would save nothing
 * that matters over SSH), the handful of sequences used (CUP, EL, ED, SGR 7,
 * DECTCEM, the 1049 alternate screen) is understood by every terminal an
 * admin reaches a driver domain with (xterm and its kin, tmux, screen, the
 * Linux console), and sidecorectl, which goes into Dom0 images and packages,
 * links no terminal library.  TERM=dumb, or no terminal, is refused: `-b`.
 *
 * Single-threaded.  sctl_term_open changes the terminal; sctl_term_close
 * (also run at exit) puts back exactly what it found, and is safe twice.
 */
#ifndef SCTL_TERM_H
#define SCTL_TERM_H

#include <stdbool.h>

/* stdin and stdout must be the terminal.  0, -ENOTTY (not a terminal or
 * TERM=dumb), or another -errno from termios. */
int sctl_term_open(void);
void sctl_term_close(void);

/* The window now (TIOCGWINSZ; 24 x 80 when it cannot tell). */
void sctl_term_size(unsigned *rows, unsigned *cols);

/* Waits up to timeout_ms (>= 0) for a key: a byte, or SCTL_KEY_LEFT /
 * SCTL_KEY_RIGHT (sctl_top.h) for the arrows; 0 on timeout or when a
 * signal came (see below); -1 when stdin is gone (EOF, error). */
int sctl_term_key(int timeout_ms);

/* True once after the window changed size or the program came back from a
 * stop (^Z, fg): draw everything again. */
bool sctl_term_resized(void);
/* The signal that asks to end (SIGINT, SIGTERM, SIGHUP), else 0. */
int sctl_term_quit_signal(void);

/* A frame: lines at rows 0.., each already cut to the width; a heading is
 * drawn in reverse video across the width; rows below `nlines` are
 * cleared.  The bottom-right cell is never written (a terminal without
 * deferred wrap would scroll). */
void sctl_term_frame_begin(void);
void sctl_term_line(unsigned row, const char *text, bool heading);
void sctl_term_frame_end(unsigned nlines);

#endif
