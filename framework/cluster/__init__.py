"""The cluster as placement sees it: agents, resources, port ranges, the master state's shape, typed Mesos values."""
