// Environment: Airflow connections and Deployment variables. The API for them is being built;
// until it lands this page says so rather than showing anything the API did not return.
import { Empty } from '../components/ui.tsx';

export function EnvironmentPage() {
  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Environment</h1>
          <p className="muted">Airflow connections and Deployment variables.</p>
        </div>
      </div>
      <Empty title="Not available on this server yet">
        <p>
          This server has no connections or variables API yet. Meanwhile, <code>airlock connection convert</code> checks an <code>AIRFLOW_CONN_*</code> value, and each Deployment's
          <strong> How to configure</strong> shows the connection its identity needs.
        </p>
      </Empty>
    </section>
  );
}
