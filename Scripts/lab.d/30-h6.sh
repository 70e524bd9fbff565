# shellcheck shell=bash
# Lab part: cg-h6 (198.18.6.2), services on other services' ports, so identification has to work
# out what they are instead of trusting the port number. Sourced by Scripts/lab.sh.
#   sshd on 443 (https's port), nginx on 31337 (a high port), redis on 80 (http's port)
add_host cg-h6 6
start_sshd cg-h6 6 443
start_nginx cg-h6 6 31337
start_redis cg-h6 6 80
