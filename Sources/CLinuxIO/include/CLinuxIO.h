// The Linux I/O interfaces that Swift's Glibc module leaves out: epoll(7), eventfd(2), and two GNU
// extensions (accept4, pthread_setname_np) wrapped here because the module is built without _GNU_SOURCE.
#ifndef CLINUXIO_H
#define CLINUXIO_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// accept4(2): accepts a connection and sets SOCK_NONBLOCK / SOCK_CLOEXEC on it in the same call.
int clinuxio_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// Names the calling thread (at most 15 bytes are kept), for top -H and gdb.
void clinuxio_set_thread_name(const char *name);

#endif
