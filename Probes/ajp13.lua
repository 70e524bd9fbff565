-- AJP13 (Apache JServ Protocol 1.3, Tomcat's and Jetty's connector for a front web server): a
-- CPing packet (0x1234, length 1, type 10) is answered by CPong ("AB", length 1, type 9).
return {
  name = "ajp13",
  description = "AJP13 connectors (Apache Tomcat, Jetty): the CPing/CPong exchange",
  categories = { "default", "safe", "discovery" },
  ports = { 8009 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("\x12\x34\x00\x01\x0a")
    local reply = sock:receive_bytes(5, 3000)
    sock:close()
    if reply ~= "AB\x00\x01\x09" then return nil end
    return { name = "ajp13", extra = "CPong: a servlet container's AJP connector (Apache Tomcat, Jetty)" }
  end,
}
