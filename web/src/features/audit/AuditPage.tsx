// Audit page: being built (issue 5).
export default function AuditPage() {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" className="page-title">
        Audit
      </h1>
    </section>
  );
}
