/* kbench shim (own code): a device is only a NUMA node and a name here. */
#ifndef KBENCH_LINUX_DEVICE_H
#define KBENCH_LINUX_DEVICE_H

#define NUMA_NO_NODE	(-1)

struct device {
	int numa_node;
	const char *name;
};

static inline int dev_to_node(struct device *dev)
{
	return dev ? dev->numa_node : NUMA_NO_NODE;
}

void kbench_dev_err(struct device *dev, const char *fmt, ...) __attribute__((__cold__));
#define dev_err(dev, ...)	kbench_dev_err(dev, __VA_ARGS__)

#endif
