// Port: tells a person something needs them now (a rollback that could not restore traffic).
export interface Notifier {
  notify(subject: string, message: string): Promise<void>;
}
