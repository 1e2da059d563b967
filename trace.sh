ip netns add r
ip netns add h1
ip netns add sw
ip -n h1 link add eth0 type veth peer name p1 netns sw
ip -n r link add eth0 type veth peer name p0 netns sw
ip -n sw link add br0 type bridge
ip -n sw link set p0 master br0
ip -n sw link set p1 master br0
ip -n sw link set br0 up
ip -n sw link set p0 up
ip -n sw link set p1 up
ip -n r addr add 10.0.0.1/24 dev eth0
ip -n h1 addr add 10.0.0.2/24 dev eth0
ip -n r link set eth0 up
ip -n h1 link set eth0 up
ip -n h1 link set eth0 mtu 1400
ip -n r link add up0 type veth peer name up1
ip -n r link set up1 name wan0
ip -n h1 route add default via 10.0.0.1
ip -n h1 route add 10.9.0.0/24 via 10.0.0.1 metric 50
ip netns exec r sysctl -qw 'net.ipv4.ip_forward=1'
ip netns exec r sysctl -qw 'net.ipv6.conf.all.forwarding=1'
ip netns exec r tc qdisc replace dev eth0 root tbf rate 10000000bit burst 12500 latency 50000us
