// Filesystem syscalls Node lacks (mknod, xattrs, lchown-by-fd, mount...) through koffi. Owned by the snapshots work.
export {};
