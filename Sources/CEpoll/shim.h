#ifndef INFER_CEPOLL_SHIM_H
#define INFER_CEPOLL_SHIM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

// accept4(2) is a GNU extension that Swift's Glibc module is built without (_GNU_SOURCE is not defined
// there). Declared here rather than by including <sys/socket.h>, which belongs to the Glibc module.
struct sockaddr;
extern int accept4(int sockfd, struct sockaddr *addr, unsigned int *addrlen, int flags);

/// accept4(2) without the peer address.
static inline int cepoll_accept4(int fd, int flags) {
    return accept4(fd, 0, 0, flags);
}

/// Names the calling thread (at most 15 bytes), for ps, top and gdb.
static inline void cepoll_name_current_thread(const char *name) {
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
}
#endif
