// The Linux event-notification headers that Swift's Glibc module leaves out: epoll(7) and eventfd(2).
#ifndef CEPOLL_H
#define CEPOLL_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
