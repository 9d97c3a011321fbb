package dev.keepup.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The demo listens on 127.0.0.1 unless told otherwise (Tyrus's own Grizzly container would listen
 * on 0.0.0.0): the address the kernel reports for the listening socket, the page served over
 * loopback, and a connection to each of this machine's non-loopback addresses refused (the kernel
 * routes those locally; nothing leaves the machine).
 */
@Timeout(60)
final class DemoServerBindIT {
  @Test
  void defaults_listenOnLoopbackOnly_andServeThePage() throws Exception {
    DemoServer.Options options = new DemoServer.Options(DemoServer.DEFAULT_HOST, 0, DemoServer.DEFAULT_FPS, false, false);
    assertThat(DemoServer.Options.defaults().host()).isEqualTo("127.0.0.1");
    try (DemoServer server = DemoServer.start(options)) {
      InetSocketAddress bound = server.boundAddress();
      assertThat(bound.getAddress()).isEqualTo(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}));
      assertThat(bound.getPort()).isEqualTo(server.port());
      assertThat(server.uri()).isEqualTo(URI.create("http://localhost:" + server.port() + "/"));

      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(page.statusCode()).isEqualTo(200);
      assertThat(page.body()).contains("keepup");
      HttpResponse<String> client = http.send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + server.port() + "/keepup/keepup-client.js"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(client.statusCode()).isEqualTo(200);

      List<InetAddress> others = nonLoopbackAddresses();
      System.out.println("DemoServerBindIT: non-loopback addresses tried: " + others);
      for (InetAddress other : others) {
        try (Socket socket = new Socket()) {
          assertThatThrownBy(() -> socket.connect(new InetSocketAddress(other, server.port()), 2000))
              .as("connecting to %s:%d", other, server.port())
              .isInstanceOf(ConnectException.class);
        }
      }
    }
  }

  /** This machine's IPv4 addresses on interfaces that are up and not loopback (may be none). */
  private static List<InetAddress> nonLoopbackAddresses() throws SocketException {
    List<InetAddress> addresses = new ArrayList<>();
    for (NetworkInterface nic : NetworkInterface.networkInterfaces().toList()) {
      if (!nic.isUp() || nic.isLoopback()) {
        continue;
      }
      nic.inetAddresses().filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress()).forEach(addresses::add);
    }
    return addresses;
  }
}
