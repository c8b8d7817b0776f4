// bpf(2) for cgroup v2 device programs, through koffi. Owned by the cgroups work.
export {};
