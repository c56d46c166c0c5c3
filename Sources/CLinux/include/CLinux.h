// The Linux interfaces that Swift's Glibc module leaves out: epoll(7), eventfd(2), and the GNU
// extensions (accept4, pipe2, pthread_setname_np, posix_spawn_file_actions_addclosefrom_np) that its
// headers hide because the module is built without _GNU_SOURCE. Each GNU call is wrapped in CLinux.c,
// which is compiled with _GNU_SOURCE, so nothing here redeclares a glibc prototype.
#ifndef CLINUX_H
#define CLINUX_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <spawn.h>

/// accept4(2): accepts a connection and sets SOCK_NONBLOCK / SOCK_CLOEXEC on it in the same call.
/// `address` and `length` may be null when the peer's address is not wanted.
int clinux_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// pipe2(2): a pipe whose ends get `flags` (O_CLOEXEC, O_NONBLOCK) from the start, so no other thread's
/// fork can inherit them in between.
int clinux_pipe2(int ends[2], int flags);

/// Makes a spawned child close every descriptor from `from` up, whatever its close-on-exec flag
/// (posix_spawn_file_actions_addclosefrom_np, glibc 2.34+).
int clinux_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// Names the calling thread (at most 15 bytes are kept), for ps, top -H and gdb.
void clinux_set_thread_name(const char *name);

/// malloc_trim(3) with no padding: gives the free memory inside every malloc arena back to the kernel
/// (what free() keeps resident between live blocks). Returns 1 when some was released, 0 otherwise.
int clinux_release_free_heap(void);

#endif
