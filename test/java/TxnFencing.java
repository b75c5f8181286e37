import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Zombie fencing: producer A (transactional id X) begins a transaction and sends "zombie-0";
 * producer B starts with the same id (initTransactions fences A and aborts A's open
 * transaction), then A sends "zombie-1" and tries to commit, which must fail; B then commits
 * "fresh-0". Prints "fenced <exception class>" for A's failure (or "not-fenced") and "b-committed".
 *
 * usage: TxnFencing bootstrap topic transactionalId
 */
public class TxnFencing {
  private static KafkaProducer<byte[], byte[]> producer(String bootstrap, String txnId) {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
    return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
  }

  private static ProducerRecord<byte[], byte[]> record(String topic, String value) {
    return new ProducerRecord<>(topic, 0, value.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8));
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String txnId = args[2];
    KafkaProducer<byte[], byte[]> a = producer(bootstrap, txnId);
    a.initTransactions();
    a.beginTransaction();
    a.send(record(topic, "zombie-0")).get();
    KafkaProducer<byte[], byte[]> b = producer(bootstrap, txnId);
    b.initTransactions();
    String outcome = "not-fenced";
    try {
      a.send(record(topic, "zombie-1")).get();
      a.commitTransaction();
    } catch (Exception e) {
      Throwable cause = e.getCause() != null && e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
      outcome = "fenced " + cause.getClass().getSimpleName();
    }
    System.out.println(outcome);
    try {
      a.close(java.time.Duration.ofSeconds(5));
    } catch (Exception ignored) {
      // a fenced producer may fail to close cleanly
    }
    b.beginTransaction();
    b.send(record(topic, "fresh-0")).get();
    b.commitTransaction();
    b.close();
    System.out.println("b-committed");
    System.out.flush();
  }
}
