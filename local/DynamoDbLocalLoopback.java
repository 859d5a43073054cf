import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local on 127.0.0.1 only. Its own main builds Jetty with `new Server(port)`, which listens
 * on every interface, and it has no option for the address. This launcher (run by local/servers.ts
 * with `java <this file>`, Java's single-file source mode, so nothing is compiled into the repo)
 * builds the server through the same ServerRunner factory, sets the host of its Jetty connector to
 * 127.0.0.1 before anything listens, then starts it. If DynamoDB Local's internals ever change so
 * that the connector cannot be found, it exits with status 3 rather than listen everywhere.
 * Arguments are DynamoDB Local's own (-port, -inMemory, -sharedDb, -dbPath, -disableTelemetry).
 */
public class DynamoDbLocalLoopback {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Server server = null;
    for (Field field : DynamoDBProxyServer.class.getDeclaredFields()) {
      if (Server.class.isAssignableFrom(field.getType())) {
        field.setAccessible(true);
        server = (Server) field.get(proxy);
      }
    }
    if (server == null) {
      System.err.println("DynamoDbLocalLoopback: no Jetty server in DynamoDBProxyServer; not starting");
      System.exit(3);
    }
    int connectors = 0;
    for (Connector connector : server.getConnectors()) {
      if (!(connector instanceof ServerConnector)) {
        System.err.println("DynamoDbLocalLoopback: unexpected connector " + connector + "; not starting");
        System.exit(3);
      }
      ((ServerConnector) connector).setHost("127.0.0.1");
      connectors++;
    }
    if (connectors == 0) {
      System.err.println("DynamoDbLocalLoopback: Jetty has no connector to bind; not starting");
      System.exit(3);
    }
    proxy.start();
  }
}
