ip netns add r
ip -n r link add va type veth peer name vb
ip -n r link set lo up
ip -n r link set va up
ip -n r link set vb up
ip -n r addr add 10.1.0.1/24 dev va
ip -n r addr add 10.2.0.1/24 dev vb
ip -n r addr add fd00:1::1/64 dev va
ip -n r addr add fd00:2::1/64 dev vb
ip -n r route add 10.9.0.0/24 nexthop via 10.1.0.2 weight 2 nexthop via 10.2.0.2 dev vb
ip -n r route add fd00:9::/64 nexthop via fd00:1::2 dev va nexthop via fd00:2::2 dev vb weight 4
ip -n r route add 10.4.0.0/24 nexthop via 192.168.50.1 dev va onlink nexthop via 192.168.60.1 dev vb onlink
ip -n r route add blackhole 10.8.0.0/24 table 100
ip -n r route add prohibit fd00:8::/64 table default metric 7
ip -n r route add local 10.1.0.77 dev va
ip -n r route add 192.168.5.0/24 via 192.168.99.1 dev va src 10.1.0.1 scope global onlink
ip -n r route add default dev va table 300
ip -n r route add unreachable 10.7.0.0/24
ip -n r route del unreachable 10.7.0.0/24
ip -n r rule add from 10.1.0.0/24 priority 1000 lookup 100
ip -n r rule add to 10.9.0.0/16 iif va fwmark 0x10/0xff prohibit
ip -n r -6 rule add oif vb lookup main
ip -n r -6 rule add from fd00:1::/64 priority 5 unreachable
ip -n r -6 rule del priority 5
