// The parts of libsystemd that infer's daemon runtime uses: socket activation (sd_listen_fds_with_names,
// sd_is_socket*), readiness and status notifications (sd_notify) and the watchdog (sd_watchdog_enabled).
#ifndef INFER_CSYSTEMD_SHIM_H
#define INFER_CSYSTEMD_SHIM_H

#include <systemd/sd-daemon.h>

#endif
