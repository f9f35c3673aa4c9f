// DynamoDB Local has no option for its listening address (its Jetty server binds every interface), so this launcher
// builds the server from the usual command-line options and pins its connectors to 127.0.0.1 before starting it.
// devtools/dynamodb_local.py compiles it once against DynamoDBLocal.jar and runs it with that jar on the classpath.
// Telemetry is never configured on this path (only ServerRunner.main sets it up), and -disableTelemetry is passed too.

import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        // The Jetty server is a private field with no accessor; its connector binds nothing until start().
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        for (Connector connector : ((Server) field.get(proxy)).getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1");
    }
}
