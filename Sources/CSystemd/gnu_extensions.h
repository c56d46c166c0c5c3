// GNU extensions of glibc that Swift's Glibc module hides (they need _GNU_SOURCE, which it does not
// define). Declared here with glibc's own prototypes; glibc 2.34+ (Debian 12 has 2.36) exports both.
#ifndef INFER_CSYSTEMD_GNU_EXTENSIONS_H
#define INFER_CSYSTEMD_GNU_EXTENSIONS_H

#include <spawn.h>

/// pipe(2) with flags, so both ends are close-on-exec from the start (no window for another thread's
/// fork to inherit them).
extern int pipe2(int pipefd[2], int flags);

/// Makes the spawned child close every descriptor from `from` up, whatever its close-on-exec flag.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

#endif
