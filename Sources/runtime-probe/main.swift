import IPC
