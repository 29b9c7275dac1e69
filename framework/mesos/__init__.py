"""The Mesos side: the only package that imports pymesos (importing it installs a SIGINT handler)."""
