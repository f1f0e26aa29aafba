/*
 * reload_signal: the signal backend of reload.h, for a shared PID
 * namespace (Kubernetes shareProcessNamespace, or docker run --pid
 * container:front): SIGHUP to the nginx and dovecot masters that
 * sigreload.c finds, and Mailu's ports verified on 127.0.0.1.
 */
#ifndef MCA_RELOAD_SIGNAL_H
#define MCA_RELOAD_SIGNAL_H

#include "reload.h"

int reload_signal_open(struct reloader *r);

#endif
