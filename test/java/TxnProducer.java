import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * A transactional producer (transactional.id set, so idempotent with acks=all) that runs a script
 * of transactions, each "commit:N" or "abort:N": begin, send N records (key "k-<t>-<i>", value
 * "t<t>-r<i>-<commit|abort>", round-robin over the topic's partitions), then commit or abort.
 * Prints one line per record sent: "t i partition offset outcome". Exits 0 once every
 * transaction ended as scripted.
 *
 * usage: TxnProducer bootstrap topic transactionalId partitions step... [-- extra producer props as key=value ...]
 */
public class TxnProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String txnId = args[2];
    int partitions = Integer.parseInt(args[3]);
    List<String> steps = new ArrayList<>();
    Properties props = new Properties();
    int i = 4;
    for (; i < args.length && !args[i].equals("--"); i++) steps.add(args[i]);
    for (i++; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      props.put(kv[0], kv[1]);
    }
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    StringBuilder out = new StringBuilder();
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
      producer.initTransactions();
      for (int t = 0; t < steps.size(); t++) {
        String[] step = steps.get(t).split(":");
        boolean commit = step[0].equals("commit");
        int n = Integer.parseInt(step[1]);
        producer.beginTransaction();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (int r = 0; r < n; r++) {
          acks.add(producer.send(new ProducerRecord<>(topic, r % partitions,
              ("k-" + t + "-" + r).getBytes(StandardCharsets.UTF_8),
              ("t" + t + "-r" + r + "-" + step[0]).getBytes(StandardCharsets.UTF_8))));
        }
        producer.flush();
        for (int r = 0; r < n; r++) {
          RecordMetadata m = acks.get(r).get();
          out.append(t).append(' ').append(r).append(' ').append(m.partition()).append(' ').append(m.offset())
              .append(' ').append(step[0]).append('\n');
        }
        if (commit) producer.commitTransaction();
        else producer.abortTransaction();
      }
    }
    System.out.print(out);
    System.out.flush();
  }
}
